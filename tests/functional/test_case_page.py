"""The applicant's case pages on the real stack: actions by state, approve summary, archive, organisations.

Flask test client with a signed-in browser session (cookies and CSRF as a
browser sends them), the real database, Redis and Celery worker.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from exchange import create_app
from tests.conftest import Stack
from tests.functional.accounts_flow import csrf_token, sign_in
from tests.seed import World, bearer, new_case, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]

POLICY = """version: 1
name: case page
terms:
  customers: ["Kestrel Dynamics GmbH", "Oakridge Acoustics Ltd"]
  trade_secrets: ["grain boundary diffusion"]
recipients:
  bureau:
    redact: [CUSTOMER, TRADE_SECRET]
    keep: ["Oakridge Acoustics Ltd"]
  supplier:
    redact: [CUSTOMER, TRADE_SECRET]
"""
ORDERS = (
    b"Ship 2,000 N48 segments to Kestrel Dynamics GmbH for Oakridge Acoustics Ltd.\n"
    b"Kestrel Dynamics GmbH pays in advance.\n"
)
PROCESS = b"Coercivity comes from grain boundary diffusion.\n"


@pytest.fixture(scope="module")
def app(stack: Stack) -> Iterator[Flask]:
    app = create_app(stack.settings)
    yield app
    app.extensions["exchange"].database.dispose()


@pytest.fixture(scope="module")
def world(stack: Stack) -> World:
    return seed_world(stack.settings)


@pytest.fixture
def browser(app: Flask, world: World) -> FlaskClient:
    """A signed-in applicant's browser: session cookie, CSRF header on API writes."""
    client = app.test_client()
    assert sign_in(client, world.applicant.email).status_code == 302
    return client


def csrf(client: FlaskClient) -> dict[str, str]:
    return {"X-CSRFToken": csrf_token(client, "/cases")}


def upload(client: FlaskClient, case_id: str, name: str, data: bytes) -> Any:
    return client.post(
        f"/api/v1/cases/{case_id}/files",
        headers=csrf(client),
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def wait_for(client: FlaskClient, case_id: str, want: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/cases/{case_id}").get_json()
        if body["status"] == want:
            return body
        assert body["status"] != "failed", body
        time.sleep(0.3)
    raise AssertionError(f"case stayed {body.get('status')} (wanted {want})")


def ids_on(page: str) -> set[str]:
    return set(re.findall(r'id="([a-z-]+)"', page))


ACTION_IDS = {"submit-case", "approve-case", "archive-case", "unarchive-case", "dropzone", "save-policy"}


def test_actions_summary_and_read_only_seal(stack: Stack, browser: FlaskClient, world: World) -> None:
    case_id = new_case(browser, world, "Case page journey", POLICY)
    draft = browser.get(f"/api/v1/cases/{case_id}").get_json()
    assert draft["actions"] == sorted(
        ["upload", "delete_file", "edit_policy", "submit", "review", "archive"]
    ), draft["actions"]
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert ids_on(page) & ACTION_IDS == {"submit-case", "archive-case", "dropzone", "save-policy"}

    first = upload(browser, case_id, "orders.txt", ORDERS)
    second = upload(browser, case_id, "process.txt", PROCESS)
    assert first.status_code == 201 and second.status_code == 201, (first.get_json(), second.get_json())
    assert browser.post(f"/api/v1/cases/{case_id}/submit", headers=csrf(browser)).status_code == 202
    busy = browser.get(f"/api/v1/cases/{case_id}").get_json()
    if busy["status"] == "processing":
        assert busy["actions"] == []
        page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
        assert not ids_on(page) & ACTION_IDS, "a processing case offers an action"
    review = wait_for(browser, case_id, "review")
    assert "approve" in review["actions"] and "upload" in review["actions"]
    # Files follow upload order.
    assert [f["name"] for f in review["files"]] == ["orders.txt", "process.txt"]
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert {"approve-case", "submit-case", "dropzone"} <= ids_on(page)
    assert f'href="/cases/{case_id}/approve"' in page
    assert f"/cases/{case_id}/review?file={review['files'][0]['id']}" in page

    # The summary's numbers are the stored reports' numbers, per recipient and file.
    summary = browser.get(f"/api/v1/cases/{case_id}/approval-summary").get_json()
    assert summary["can_approve"] and summary["ready"]
    for recipient in summary["recipients"]:
        name = recipient["recipient"]
        expected_total: dict[str, int] = {}
        assert [f["original_name"] for f in recipient["files"]] == ["orders.txt", "process.txt"]
        for entry, file in zip(recipient["files"], review["files"], strict=True):
            report_counts = file["outputs"][name]["report"]["counts"]
            assert entry["counts"] == report_counts, (name, entry, report_counts)
            assert entry["name"] == file["outputs"][name]["name"]
            for kind, n in report_counts.items():
                expected_total[kind] = expected_total.get(kind, 0) + n
        assert recipient["counts"] == expected_total
        assert recipient["redactions"] == sum(expected_total.values())
        assert not recipient["withheld"] and not recipient["pending"]
    by_name = {r["recipient"]: r for r in summary["recipients"]}
    # The bureau keeps the end user the supplier must not see: fewer customers redacted for it.
    assert by_name["supplier"]["counts"]["CUSTOMER"] > by_name["bureau"]["counts"]["CUSTOMER"] >= 2
    approve_page = browser.get(f"/cases/{case_id}/approve").get_data(as_text=True)
    assert 'name="confirm"' in approve_page and "required" in approve_page
    for recipient in summary["recipients"]:
        assert f"{len(recipient['files'])} file(s), {recipient['redactions']} redaction(s)" in approve_page

    # Approving needs the explicit confirmation; without it nothing happens.
    token = csrf_token(browser, f"/cases/{case_id}/approve")
    refused = browser.post(f"/cases/{case_id}/approve", data={"csrf_token": token})
    assert refused.status_code == 422 and "Tick the box" in refused.get_data(as_text=True)
    assert browser.get(f"/api/v1/cases/{case_id}").get_json()["status"] == "review"
    assert browser.post(f"/cases/{case_id}/approve", data={"confirm": "yes"}).status_code == 400  # no CSRF
    done = browser.post(f"/cases/{case_id}/approve", data={"confirm": "yes", "csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/cases/{case_id}")
    sealed = wait_for(browser, case_id, "sealed")
    assert sealed["actions"] == ["archive"]

    # Sealed is read-only: the page offers only archiving, the services refuse the rest.
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert ids_on(page) & ACTION_IDS == {"archive-case"}
    assert "readonly" in page and "sealed and read-only" in page
    refusals = [
        upload(browser, case_id, "late.txt", b"late\n"),
        browser.put(
            f"/api/v1/cases/{case_id}/policy",
            headers=csrf(browser),
            data=POLICY + "# changed\n",
            content_type="application/yaml",
        ),
        browser.delete(f"/api/v1/cases/{case_id}/files/{sealed['files'][0]['id']}", headers=csrf(browser)),
        browser.post(f"/api/v1/cases/{case_id}/approve", headers=csrf(browser)),
    ]
    for res in refusals:
        assert res.status_code == 409, res.get_json()
        assert res.get_json()["error"] == "the case is sealed and read-only"

    # The timeline: milestones with their zone, and who downloaded.
    bundles = browser.application.test_client().get("/api/v1/bundles", headers=bearer(world.supplier))
    supplier_bundle = bundles.get_json()["bundles"][0]["id"]
    download = browser.application.test_client().get(
        f"/api/v1/bundles/{supplier_bundle}/download", headers=bearer(world.supplier)
    )
    assert download.status_code == 200
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    timeline = page[page.index('id="timeline"') :]
    for text in (
        "Case created",
        "Submitted for processing",
        "Processed: ready for review",
        "Sealed, version 1",
    ):
        assert text in timeline, text
    assert f"Downloaded by {world.supplier.org}" in timeline
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC</time> Case created", timeline)
    # Chinese, in an app whose first request already asks for it (Flask-Babel keeps a context's locale).
    chinese = create_app(stack.settings)
    reader = chinese.test_client()
    reader.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert sign_in(reader, world.applicant.email).status_code == 302
    zh = reader.get(f"/cases/{case_id}").get_data(as_text=True)
    chinese.extensions["exchange"].database.dispose()
    assert "案件已创建" in zh and "已封装，第 1 版" in zh and f"{world.supplier.org} 已下载" in zh


def test_uploading_into_review_goes_back_to_draft(browser: FlaskClient, world: World) -> None:
    case_id = new_case(browser, world, "Back to draft", POLICY)
    assert upload(browser, case_id, "orders.txt", ORDERS).status_code == 201
    assert browser.post(f"/api/v1/cases/{case_id}/submit", headers=csrf(browser)).status_code == 202
    wait_for(browser, case_id, "review")
    assert upload(browser, case_id, "more.txt", PROCESS).status_code == 201
    after = browser.get(f"/api/v1/cases/{case_id}").get_json()
    assert after["status"] == "draft" and "approve" not in after["actions"]
    summary = browser.get(f"/api/v1/cases/{case_id}/approval-summary").get_json()
    assert not summary["can_approve"]
    assert [p["original_name"] for p in summary["recipients"][0]["pending"]] == ["more.txt"]
    res = browser.post(f"/api/v1/cases/{case_id}/approve", headers=csrf(browser))
    assert (
        res.status_code == 409
        and res.get_json()["error"] == "only a case in review can be approved; this one is draft"
    )


def test_archive_hides_the_case_and_freezes_it(browser: FlaskClient, world: World) -> None:
    case_id = new_case(browser, world, "To be archived", POLICY)
    assert browser.post(f"/api/v1/cases/{case_id}/archive").status_code == 400  # cookie without CSRF
    res = browser.post(f"/api/v1/cases/{case_id}/archive", headers=csrf(browser))
    assert res.status_code == 200 and res.get_json() == {"id": case_id, "archived": True}
    body = browser.get(f"/api/v1/cases/{case_id}").get_json()
    assert body["archived"] and body["actions"] == ["unarchive"]
    listed = [c["id"] for c in browser.get("/api/v1/cases").get_json()["cases"]]
    assert case_id not in listed
    assert case_id in [c["id"] for c in browser.get("/api/v1/cases?archived=1").get_json()["cases"]]
    page = browser.get("/cases").get_data(as_text=True)
    assert "To be archived" not in page and 'id="show-archived"' in page
    assert "To be archived" in browser.get("/cases?archived=1").get_data(as_text=True)
    case_page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert ids_on(case_page) & ACTION_IDS == {"unarchive-case"}
    refused = upload(browser, case_id, "x.txt", b"x\n")
    assert refused.status_code == 409 and "archived" in refused.get_json()["error"]
    assert browser.post(f"/api/v1/cases/{case_id}/archive", headers=csrf(browser)).status_code == 409
    # Only applicants of the case's organisation archive it.
    other = browser.application.test_client()
    assert other.post(f"/api/v1/cases/{case_id}/unarchive", headers=bearer(world.supplier)).status_code in (
        403,
        404,
    )
    res = browser.post(f"/api/v1/cases/{case_id}/unarchive", headers=csrf(browser))
    assert res.status_code == 200 and not browser.get(f"/api/v1/cases/{case_id}").get_json()["archived"]
    assert case_id in [c["id"] for c in browser.get("/api/v1/cases").get_json()["cases"]]
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Archived</li>" in page and "Restored from the archive</li>" in page


def test_organisations_are_chosen_from_a_list(app: Flask, browser: FlaskClient, world: World) -> None:
    suppliers = browser.get("/api/v1/organisations?kind=supplier").get_json()["organisations"]
    names = [o["name"] for o in suppliers]
    assert world.supplier.org in names and world.outsider.org in names
    assert world.bureau.org not in names and world.applicant.org not in names
    assert all(set(o) == {"id", "name", "kind", "has_key"} and o["kind"] == "supplier" for o in suppliers)
    bureaus = [
        o["name"] for o in browser.get("/api/v1/organisations?kind=bureau").get_json()["organisations"]
    ]
    assert world.bureau.org in bureaus and world.supplier.org not in bureaus
    bad = browser.get("/api/v1/organisations?kind=applicant")
    assert bad.status_code == 422 and bad.get_json()["error"] == "kind must be one of: supplier, bureau"
    outsider = app.test_client()
    assert outsider.get("/api/v1/organisations", headers=bearer(world.supplier)).status_code == 403
    assert outsider.get("/api/v1/organisations").status_code == 401

    page = browser.get("/cases").get_data(as_text=True)
    supplier_select = page[
        page.index('<select name="supplier_org"') : page.index('<select name="bureau_org"')
    ]
    assert f'<option value="{world.supplier.org}">' in supplier_select
    assert world.bureau.org not in supplier_select
    token = csrf_token(browser, "/cases")
    made = browser.post(
        "/cases",
        data={
            "title": "From the lists",
            "supplier_org": world.supplier.org,
            "bureau_org": world.bureau.org,
            "csrf_token": token,
        },
    )
    assert made.status_code == 302
    wrong = browser.post(
        "/cases",
        data={
            "title": "Swapped",
            "supplier_org": world.bureau.org,
            "bureau_org": world.bureau.org,
            "csrf_token": token,
        },
    )
    assert wrong.status_code == 422 and "no supplier organisation named" in wrong.get_data(as_text=True)


def test_sizes_are_shown_in_kb_and_mb(app: Flask, browser: FlaskClient, world: World) -> None:
    size = app.jinja_env.filters["filesize"]
    assert [size(n) for n in (0, 1023, 1024, 1536, 1024 * 1024 - 1, 5 * 1024 * 1024 + 512 * 1024)] == [
        "0 B",
        "1023 B",
        "1.0 KB",
        "1.5 KB",
        "1.0 MB",
        "5.5 MB",
    ]
    assert size(3 * 1024**3) == "3.0 GB"
    case_id = new_case(browser, world, "Sizes", POLICY)
    assert upload(browser, case_id, "padded.txt", b"x" * 1535 + b"\n").status_code == 201
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert '<td class="nowrap">1.5 KB</td>' in page

"""The policy editor page and its API helpers, on the real stack (Flask, database, Redis, worker).

The page is driven through its real form posts (CSRF tokens read from the
page, session cookies from signing in); what it saved is read back through
the public API, which is what the workers use.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from exchange import create_app
from exchange.domain.detection import load_policy
from exchange.models import PolicyVersion
from tests.conftest import Stack
from tests.corpus.office_xlsx import convert
from tests.functional.accounts_flow import csrf_token, operator, sign_in
from tests.functional.sealed_case import extra_account, seal_case
from tests.seed import World, bearer, new_case, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]

CJK_CUSTOMER = "宁波瀚海磁电有限公司"
STARTING_POLICY = """version: 1
name: editor test   # a comment the form does not keep
terms:
  customers: ["Kestrel Dynamics GmbH"]
recipients:
  bureau: {redact: [CUSTOMER]}
  supplier: {redact: [CUSTOMER, PERSON], style: label}
"""


@pytest.fixture(scope="module")
def app(stack: Stack) -> Iterator[Flask]:
    app = create_app(stack.settings)
    yield app
    app.extensions["exchange"].database.dispose()


@pytest.fixture
def world(stack: Stack) -> World:
    return seed_world(stack.settings)


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    return client


def form_of(page: str) -> dict[str, list[str]]:
    """The values a browser would submit from the page's policy form (ticked boxes, chosen radios)."""
    form = page[page.index('id="policy-form"') : page.index("</form>", page.index('id="policy-form"'))]
    data: dict[str, list[str]] = {}
    for tag in re.findall(r"<input\b[^>]*>", form):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag))
        flags = set(re.findall(r"\s(checked|disabled)(?=[\s>])", tag))
        kind = attrs.get("type", "text")
        if "name" not in attrs or kind == "file" or "disabled" in flags:
            continue
        if kind in ("checkbox", "radio") and "checked" not in flags:
            continue
        data.setdefault(attrs["name"], []).append(_unescape(attrs.get("value", "")))
    for name, text in re.findall(r'<textarea\b[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        data[name] = [_unescape(text)]
    return data


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", '"')
        .replace("&#39;", "'")
        .replace("&amp;", "&")
    )


def post_form(client: FlaskClient, case_id: str, data: dict[str, Any], **extra: Any) -> Any:
    path = f"/cases/{case_id}/policy"
    token = csrf_token(client, path)
    return client.post(path, data={**data, "csrf_token": token}, **extra)


def api_policy(app: Flask, world: World, case_id: str) -> dict[str, Any]:
    res = app.test_client().get(f"/api/v1/cases/{case_id}/policy", headers=bearer(world.applicant))
    assert res.status_code == 200, res.get_json()
    body: dict[str, Any] = res.get_json()
    return body


def xlsx_with_formulas(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Customer", "Units", "Tag"])
    sheet.append(["Kestrel Dynamics GmbH", 1200, '=A2&"x"'])
    sheet.append([CJK_CUSTOMER, 800, '=A3&"x"'])
    sheet.append(["Oakridge Acoustics Ltd", 50, '=A4&"x"'])
    sheet.append(["Total", "=SUM(B2:B4)", None])
    book.save(path)
    return path


# --- the form ---------------------------------------------------------------------------


def test_form_save_creates_a_version_that_the_api_returns(app: Flask, world: World) -> None:
    case_id = new_case(app.test_client(), world, "Form save", STARTING_POLICY)
    client = signed_in(app, world.applicant.email)
    page = client.get(f"/cases/{case_id}/policy")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="editor test"' in html and "Kestrel Dynamics GmbH</textarea>" in html
    data = form_of(html)
    assert data["supplier-style"] == ["label"] and data["bureau-redact"] == ["CUSTOMER"]

    data["customers"] = [data["customers"][0] + "\n" + CJK_CUSTOMER + "\n\n"]
    data["trade_secrets"] = ["grain boundary diffusion"]
    data["pattern_name"] = ["PART_NUMBER", ""]
    data["pattern_regex"] = [r"KD-\d{4}-[A-Z]{2}", ""]
    data["supplier-keep"] = ["Kestrel Dynamics GmbH"]
    data["supplier-images"] = ["remove"]
    data["bureau-videos"] = ["exclude"]
    data["bureau-thresholds"] = ["default=0.5, PERSON=0.8"]
    data["bureau-redact"] = ["CUSTOMER", "TRADE_SECRET", "PERSON"]
    res = post_form(client, case_id, data)
    assert res.status_code == 302, res.get_data(as_text=True)[:2000]
    assert res.headers["Location"].endswith(f"/cases/{case_id}/policy")
    assert "version 2" in client.get(res.headers["Location"]).get_data(as_text=True)

    stored = api_policy(app, world, case_id)
    assert stored["version"] == 2
    policy = load_policy(stored["text"])
    assert policy.customers == ("Kestrel Dynamics GmbH", CJK_CUSTOMER)
    assert policy.trade_secrets == ("grain boundary diffusion",)
    assert policy.patterns == {"PART_NUMBER": r"KD-\d{4}-[A-Z]{2}"}
    supplier, bureau = policy.recipients["supplier"], policy.recipients["bureau"]
    # A pattern the form had not shown before is redacted for every recipient (fail closed).
    assert supplier.redact == {"CUSTOMER", "PERSON", "PART_NUMBER"}
    assert bureau.redact == {"CUSTOMER", "TRADE_SECRET", "PERSON", "PART_NUMBER"}
    assert supplier.keep == ("Kestrel Dynamics GmbH",) and supplier.style == "label"
    assert supplier.images == "remove" and bureau.videos == "exclude"
    assert bureau.thresholds == {"default": 0.5, "PERSON": 0.8}
    assert stored["text"].count(CJK_CUSTOMER) == 1, "CJK written as text, not escaped"

    # Saving the unchanged form is no new version; unticking a known pattern sticks.
    data = form_of(client.get(f"/cases/{case_id}/policy").get_data(as_text=True))
    assert post_form(client, case_id, data).status_code == 302
    assert api_policy(app, world, case_id)["version"] == 2
    data["supplier-redact"] = [t for t in data["supplier-redact"] if t != "PART_NUMBER"]
    assert post_form(client, case_id, data).status_code == 302
    again = load_policy(api_policy(app, world, case_id)["text"])
    assert "PART_NUMBER" not in again.recipients["supplier"].redact
    assert "PART_NUMBER" in again.recipients["bureau"].redact


def test_strict_recipient_and_the_advanced_tab(app: Flask, world: World) -> None:
    case_id = new_case(app.test_client(), world, "Strict", STARTING_POLICY)
    client = signed_in(app, world.applicant.email)
    data = form_of(client.get(f"/cases/{case_id}/policy").get_data(as_text=True))
    data["bureau-strict"] = ["1"]
    assert post_form(client, case_id, data).status_code == 302
    policy = load_policy(api_policy(app, world, case_id)["text"])
    assert set(policy.recipients) == {"supplier"}, "a strict recipient is left out: everything is redacted"

    # The advanced tab saves the text as written, comments included.
    res = post_form(client, case_id, {"editor": "yaml", "policy_text": STARTING_POLICY})
    assert res.status_code == 302 and res.headers["Location"].endswith("#yaml-panel")
    assert api_policy(app, world, case_id)["text"] == STARTING_POLICY
    bad = STARTING_POLICY.replace("PERSON", "PERSONS")
    res = post_form(client, case_id, {"editor": "yaml", "policy_text": bad})
    html = res.get_data(as_text=True)
    assert res.status_code == 422 and 'id="err-yaml"' in html
    assert "unknown entity type &#39;PERSONS&#39;; did you mean &#39;PERSON&#39;? (line 7)" in html
    assert 'data-tab="yaml"' in html


def test_bad_pattern_gives_the_one_line_reason_next_to_the_field(app: Flask, world: World) -> None:
    case_id = new_case(app.test_client(), world, "Bad pattern", STARTING_POLICY)
    client = signed_in(app, world.applicant.email)
    data = form_of(client.get(f"/cases/{case_id}/policy").get_data(as_text=True))
    data["pattern_name"] = ["ORDER_REF", "DOUBLED"]
    data["pattern_regex"] = [r"ORD-\d+", r"(\w)\1"]
    res = post_form(client, case_id, data)
    html = res.get_data(as_text=True)
    assert res.status_code == 422
    error = re.search(r'<p class="field-error" id="err-pattern-1">([^<]*)</p>', html)
    assert error, html[:3000]
    assert "backreferences are not supported" in error.group(1) and "\n" not in error.group(1)
    assert 'id="pattern-regex-1"' in html and 'aria-describedby="err-pattern-1" aria-invalid="true"' in html
    assert 'id="error-summary"' in html and "Traceback" not in html
    # The form comes back as typed, and nothing was saved.
    assert r'value="(\w)\1"' in html and 'value="ORDER_REF"' in html
    assert api_policy(app, world, case_id)["version"] == 1

    # A loader error about a recipient's field lands next to that field.
    data["pattern_name"], data["pattern_regex"] = [], []
    data["supplier-keep"] = ["Nobody Declared Ltd"]
    html = post_form(client, case_id, data).get_data(as_text=True)
    keep = re.search(r'id="err-supplier-keep">([^<]*)<', html)
    assert keep and "matches no declared customer" in keep.group(1)
    assert "(line" not in keep.group(1), "line numbers of generated YAML mean nothing in a form"
    data["supplier-keep"], data["name"] = [""], [""]
    html = post_form(client, case_id, data).get_data(as_text=True)
    assert re.search(r'id="err-name">must not be empty<', html)


def test_import_xlsx_with_formulas_in_another_column(app: Flask, world: World, tmp_path: Path) -> None:
    client = signed_in(app, world.applicant.email)
    source = xlsx_with_formulas(tmp_path / "customers.xlsx")
    # openpyxl's file (formulas without cached values) and LibreOffice's re-save (with them).
    (libreoffice,) = convert([source], tmp_path / "lo", "xlsx:Calc MS Excel 2007 XML")
    for path in (source, libreoffice):
        case_id = new_case(app.test_client(), world, "Import " + path.parent.name, STARTING_POLICY)
        data = form_of(client.get(f"/cases/{case_id}/policy").get_data(as_text=True))
        data["customers_file"] = (io.BytesIO(path.read_bytes()), "customers.xlsx")
        data["customers_column"] = "Customer"
        data["action"] = "import"
        res = post_form(client, case_id, data, content_type="multipart/form-data")
        assert res.status_code == 302, res.get_data(as_text=True)[:3000]
        page = client.get(res.headers["Location"]).get_data(as_text=True)
        assert "3 customer(s) imported; the policy is saved as version 2." in page
        stored = api_policy(app, world, case_id)
        # The unchanged form wrote no version of its own: only the import did.
        assert stored["version"] == 2
        customers = load_policy(stored["text"]).customers
        assert customers == ("Kestrel Dynamics GmbH", CJK_CUSTOMER, "Oakridge Acoustics Ltd", "Total")
        assert CJK_CUSTOMER in page

    # A formula in the chosen column is refused, next to the file field, and nothing is saved.
    data = form_of(client.get(f"/cases/{case_id}/policy").get_data(as_text=True))
    data["customers_file"] = (io.BytesIO(libreoffice.read_bytes()), "customers.xlsx")
    data["customers_column"] = "Tag"
    res = post_form(client, case_id, data, content_type="multipart/form-data")
    assert res.status_code == 422
    error = re.search(r'id="err-customers_file">([^<]*)<', res.get_data(as_text=True))
    assert error and "row 2: a cell holds a formula" in error.group(1)
    assert api_policy(app, world, case_id)["version"] == 2


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("gb18030", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16", b"")],
)
def test_import_csv_in_chinese_encodings(app: Flask, world: World, encoding: str, prefix: bytes) -> None:
    case_id = new_case(app.test_client(), world, "CSV", STARTING_POLICY)
    client = signed_in(app, world.applicant.email)
    text = f"编号,客户名称\n1,{CJK_CUSTOMER}\n2,上海稀土贸易有限公司\n"
    data = form_of(client.get(f"/cases/{case_id}/policy").get_data(as_text=True))
    data["customers_file"] = (io.BytesIO(prefix + text.encode(encoding)), "客户.csv")
    data["customers_column"] = "客户名称"
    res = post_form(client, case_id, data, content_type="multipart/form-data")
    assert res.status_code == 302, res.get_data(as_text=True)[:3000]
    customers = load_policy(api_policy(app, world, case_id)["text"]).customers
    assert customers[-2:] == (CJK_CUSTOMER, "上海稀土贸易有限公司")


def test_a_sealed_case_shows_read_only(app: Flask, world: World) -> None:
    sealed = seal_case(app.test_client(), world)
    client = signed_in(app, world.applicant.email)
    res = client.get(f"/cases/{sealed.case_id}/policy")
    html = res.get_data(as_text=True)
    assert res.status_code == 200
    assert 'id="policy-readonly"' in html and "the case is sealed and read-only" in html
    assert '<fieldset class="plain" disabled>' in html and "readonly" in html
    assert 'id="save-form"' not in html and 'id="save-yaml"' not in html
    before = api_policy(app, world, sealed.case_id)
    data = form_of(html.replace('<fieldset class="plain" disabled>', '<fieldset class="plain">'))
    data["customers"] = ["Someone Else AG"]
    res = post_form(client, sealed.case_id, data)
    assert res.status_code == 409 and 'id="policy-readonly"' in res.get_data(as_text=True)
    res = post_form(client, sealed.case_id, {"editor": "yaml", "policy_text": STARTING_POLICY})
    assert res.status_code == 409
    assert api_policy(app, world, sealed.case_id) == before


def test_csrf_is_required_on_every_post(app: Flask, world: World) -> None:
    case_id = new_case(app.test_client(), world, "CSRF", STARTING_POLICY)
    client = signed_in(app, world.applicant.email)
    data = form_of(client.get(f"/cases/{case_id}/policy").get_data(as_text=True))
    data["customers"] = ["Forged Customer AG"]
    assert data.pop("csrf_token")
    res = client.post(f"/cases/{case_id}/policy", data=data)
    assert res.status_code == 400 and "CSRF" in res.get_data(as_text=True)
    res = client.post(f"/cases/{case_id}/policy", data={**data, "csrf_token": "forged"})
    assert res.status_code == 400
    assert api_policy(app, world, case_id)["version"] == 1
    # The API helpers take the session cookie only with the X-CSRFToken header.
    body = {"pattern": "a", "text": "banana"}
    assert client.post("/api/v1/policy/pattern-test", json=body).status_code == 400
    token = csrf_token(client, f"/cases/{case_id}/policy")
    res = client.post("/api/v1/policy/pattern-test", json=body, headers={"X-CSRFToken": token})
    assert res.status_code == 200 and res.get_json()["matches"] == [[1, 2], [3, 4], [5, 6]]


def test_other_organisations_and_roles_are_refused(app: Flask, world: World, stack: Stack) -> None:
    case_id = new_case(app.test_client(), world, "Private", STARTING_POLICY)
    other = extra_account(stack.settings, "applicant")
    outsider = signed_in(app, other.email)
    assert outsider.get(f"/cases/{case_id}/policy").status_code == 404
    token = csrf_token(outsider, "/cases")
    res = outsider.post(f"/cases/{case_id}/policy", data={"csrf_token": token, "name": "taken over"})
    assert res.status_code == 404 and case_id not in res.get_data(as_text=True)
    supplier = signed_in(app, world.supplier.email)
    assert supplier.get(f"/cases/{case_id}/policy").status_code == 403
    assert app.test_client().get(f"/cases/{case_id}/policy").status_code == 302  # to sign-in
    assert api_policy(app, world, case_id)["version"] == 1


def test_the_page_in_chinese_lists_types_and_an_example(app: Flask, world: World) -> None:
    case_id = new_case(app.test_client(), world, "中文", STARTING_POLICY)
    client = signed_in(app, world.applicant.email)
    html = client.get(f"/cases/{case_id}/policy", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "脱敏策略" in html and "高级（YAML/JSON）" in html and "实体类型" in html
    assert "<code>US_SSN</code>" in html and "示例策略" in html
    assert "NdFeB magnets, application 41" in html, "the example policy is on the page"
    assert "policy-schema.json" not in html
    assert "style=" not in html and "<script>" not in html, "strict CSP: no inline style or script"


# --- the API helpers ------------------------------------------------------------------------


def try_pattern(client: FlaskClient, account: Any, pattern: Any, text: Any = "x") -> Any:
    headers = bearer(account) if account is not None else {}
    body = {"pattern": pattern, "text": text}
    return client.post("/api/v1/policy/pattern-test", json=body, headers=headers)


def test_pattern_test_is_what_detection_finds_and_stays_bounded(app: Flask, world: World) -> None:
    client = app.test_client()
    applicant = world.applicant
    text = "Parts KD-4471-ZX and kd-0001-ab; 宁波 KD-1234-AB."
    res = try_pattern(client, applicant, r"KD-\d{4}-[A-Z]{2}", text)
    assert res.status_code == 200
    spans = res.get_json()["matches"]
    assert [text[s:e] for s, e in spans] == ["KD-4471-ZX", "KD-1234-AB"], "offsets are code points"
    assert len(try_pattern(client, applicant, r"(?i)kd-\d+", text).get_json()["matches"]) == 3

    for pattern, reason in (
        (r"(\w+)\1", "backreferences are not supported"),
        (r"(?<=x)y", "lookahead/lookbehind is not supported"),
        (r"a*", "matches the empty string"),
        ("(", "pattern refused"),
        ("x" * 501, "longer than 500"),
    ):
        res = try_pattern(client, applicant, pattern)
        error = res.get_json()["error"]
        assert res.status_code == 400 and reason in error and "\n" not in error, (pattern, error)
    assert try_pattern(client, applicant, 3).status_code == 400

    # Catastrophic backtracking on a backtracking engine; linear on RE2.
    started = time.monotonic()
    res = try_pattern(client, applicant, r"(a+)+$", "a" * 19_999 + "!")
    assert res.status_code == 200 and res.get_json()["matches"] == []
    assert time.monotonic() - started < 2
    res = try_pattern(client, applicant, "a", "a" * 20_000)
    assert res.get_json()["truncated"] is True and len(res.get_json()["matches"]) == 1000
    res = try_pattern(client, applicant, "a", "a" * 20_001)
    assert res.status_code == 400 and "longer than 20000" in res.get_json()["error"]

    assert try_pattern(client, world.supplier, "a").status_code == 403
    assert try_pattern(client, world.bureau, "a").status_code == 403
    assert try_pattern(client, None, "a").status_code in (400, 401)


def test_customer_columns_offer_the_headers(app: Flask, world: World, tmp_path: Path) -> None:
    client = app.test_client()
    source = xlsx_with_formulas(tmp_path / "list.xlsx")
    res = client.post(
        "/api/v1/policy/customer-columns",
        data={"file": (io.BytesIO(source.read_bytes()), "list.xlsx")},
        content_type="multipart/form-data",
        headers=bearer(world.applicant),
    )
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert [c["key"] for c in body["columns"]] == ["Customer", "Units", "Tag"]
    assert body["suggested"] == "Customer"
    assert body["columns"][0]["sample"] == ["Kestrel Dynamics GmbH", CJK_CUSTOMER, "Oakridge Acoustics Ltd"]
    assert body["columns"][2]["sample"] == [], "formulas are not shown as values"
    res = client.post(
        "/api/v1/policy/customer-columns",
        data={"file": (io.BytesIO(b"%PDF-1.7"), "list.pdf")},
        content_type="multipart/form-data",
        headers=bearer(world.applicant),
    )
    assert res.status_code == 422 and "must be .csv or .xlsx" in res.get_json()["error"]
    spec = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/policy/pattern-test" in spec and "/policy/customer-columns" in spec
    assert yaml.safe_dump(spec)  # the document stays serialisable


def test_a_stored_policy_todays_loader_refuses_opens_in_the_advanced_tab(
    app: Flask, world: World, stack: Stack
) -> None:
    case_id = new_case(app.test_client(), world, "Old rules", STARTING_POLICY)
    # As if saved under older, looser rules: a type the loader no longer knows.
    old = STARTING_POLICY.replace("PERSON", "NATIONAL_ID")
    with operator(stack.settings) as ctx:
        first = ctx.session.scalar(select(PolicyVersion).where(PolicyVersion.case_id == case_id))
        assert first is not None
        ctx.session.add(
            PolicyVersion(
                case_id=case_id,
                version=2,
                content_hash="0" * 64,
                source_text=old,
                created_by_id=first.created_by_id,
            )
        )
    client = signed_in(app, world.applicant.email)
    res = client.get(f"/cases/{case_id}/policy")
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and 'data-tab="yaml"' in html
    assert 'id="err-yaml"' in html and "unknown entity type &#39;NATIONAL_ID&#39;" in html
    assert "redact: [CUSTOMER, NATIONAL_ID]" in html, "the stored text is shown to be fixed"
    # Saving the form replaces it with a valid version.
    data = form_of(html)
    data["customers"] = ["Kestrel Dynamics GmbH"]
    assert post_form(client, case_id, data).status_code == 302
    assert api_policy(app, world, case_id)["version"] == 3

"""The review page in Debian's headless Chromium: pages side by side, a rejected finding, a drawn box.

The journey runs with the page's own Content-Security-Policy enforced (a
blocked script or style would break it and is reported as a console error);
axe-core runs in a second context that bypasses CSP to inject itself.
Screenshots go where the other browser tests put theirs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import ConsoleMessage, Page, expect

from exchange import create_app
from tests.conftest import Stack
from tests.corpus.orders import PURCHASE_ORDER, PURCHASE_ORDER_POLICY, order_pdf
from tests.functional.browser import browser, live_server, sign_in
from tests.functional.test_accessibility import (  # noqa: F401  (axe_script: a fixture)
    PHONE,
    audit,
    axe_script,
    no_sideways_scroll,
    shoot,
)
from tests.functional.test_api_flow import upload
from tests.seed import PASSWORD, World, bearer, new_case, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.sqlite_only]


def processed_case(client: FlaskClient, world: World, stack: Stack) -> tuple[str, str]:
    case_id = new_case(client, world, "Magnets for review", PURCHASE_ORDER_POLICY)
    file_id = upload(client, world, case_id, "order.pdf", order_pdf(PURCHASE_ORDER, size=18))
    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=bearer(world.applicant)).status_code == 202
    deadline = time.monotonic() + 240
    status = ""
    asked = False
    path = f"/api/v1/cases/{case_id}/files/{file_id}/pages"
    while time.monotonic() < deadline:
        pages = client.get(path, headers=bearer(world.applicant))
        status = pages.get_json()["status"]
        if status == "ready":
            return case_id, file_id
        assert status not in ("failed", "none"), pages.get_json()
        if status == "rendering" and not asked:
            assert client.post(path, headers=bearer(world.applicant)).status_code in (200, 202)
            asked = True
        time.sleep(0.5)
    pytest.fail(f"pages stayed {status}\n{stack.worker_tail()}")


def draw_box(page: Page, left: float, top: float, right: float, bottom: float) -> None:
    """Drag a box with the mouse over the original page image; corners in fractions of the image."""
    page.locator("#original-img").scroll_into_view_if_needed()
    frame = page.locator("#original-img").bounding_box()
    assert frame is not None
    x0, y0 = frame["x"] + frame["width"] * left, frame["y"] + frame["height"] * top
    x1, y1 = frame["x"] + frame["width"] * right, frame["y"] + frame["height"] * bottom
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()


def counts(page: Page, entity_type: str, recipient: str) -> object:
    return page.locator(f'#counts tr[data-type="{entity_type}"] td.count-{recipient}')


def test_review_page_reject_a_finding_and_draw_a_box(stack: Stack, axe_script: Path) -> None:  # noqa: F811
    world = seed_world(stack.settings)
    app = create_app(stack.settings)
    case_id, file_id = processed_case(app.test_client(), world, stack)
    url = f"/cases/{case_id}/review?file={file_id}&view=supplier"
    with live_server(app) as base, browser() as chromium:
        # Tall enough that the whole page image is on screen: the mouse draws only on what it can reach.
        context = chromium.new_context(viewport={"width": 1280, "height": 2000}, locale="en-GB")
        page = context.new_page()
        problems: list[str] = []

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                problems.append(message.text)

        page.on("console", console)
        sign_in(page, base, world.applicant.email, PASSWORD)
        page.goto(base + url)
        expect(page.locator("h1")).to_contain_text("Magnets for review")
        expect(page.locator("#original-img")).to_be_visible()
        expect(page.locator("#view-img")).to_be_visible()
        for image in ("#original-img", "#view-img"):
            assert page.eval_on_selector(image, "img => img.complete && img.naturalWidth") > 0
        # Findings are outlined on the original where the words are.
        expect(page.locator("#original-frame .mark").first).to_be_visible()
        expect(page.locator("#original-frame .mark")).to_have_count(2)
        expect(counts(page, "CUSTOMER", "supplier")).to_have_text("1")
        expect(counts(page, "TRADE_SECRET", "supplier")).to_have_text("1")
        shoot(page, "applicant-review-en")

        # Reject the customer finding for the supplier: its count drops, the bureau's stays.
        group = page.locator('#finding-groups li[data-term="Kestrel Dynamics GmbH"]')
        group.locator("button.keep-one").click()
        expect(counts(page, "CUSTOMER", "supplier")).to_have_text("0")
        expect(counts(page, "CUSTOMER", "bureau")).to_have_text("1")
        expect(group.locator('.decision[data-recipient="supplier"]')).to_have_class("decision decision-keep")
        expect(page.locator("#findings-message")).to_contain_text("next Submit")
        expect(page.locator("#original-frame .mark.mark-keep")).to_have_count(1)

        # Draw a box over the delivery address with the mouse.
        draw_box(page, 0.10, 0.50, 0.60, 0.54)
        expect(page.locator("#box-list li.box-item")).to_have_count(1)
        expect(page.locator("#original-frame .manual-box")).to_have_count(1)
        boxes = (
            app.test_client()
            .get(f"/api/v1/cases/{case_id}/files/{file_id}/boxes", headers=bearer(world.applicant))
            .get_json()["boxes"]
        )
        assert len(boxes) == 1 and boxes[0]["page"] == 1
        left, top, right, bottom = boxes[0]["box"]
        assert abs(left - 0.10) < 0.02 and abs(top - 0.50) < 0.02, boxes
        assert abs(right - 0.60) < 0.02 and abs(bottom - 0.54) < 0.02, boxes
        assert sorted(boxes[0]["recipients"]) == ["bureau", "supplier"]
        # The keyboard alternative: four fractions and a button.
        page.fill("#box-left", "0.7")
        page.fill("#box-top", "0.05")
        page.fill("#box-right", "0.9")
        page.fill("#box-bottom", "0.1")
        page.locator('input[name="box-recipient"][value="bureau"]').uncheck()
        page.locator("#add-box").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#box-list li.box-item")).to_have_count(2)
        expect(page.locator("#box-list li.box-item").nth(1)).to_contain_text("supplier")
        shoot(page, "applicant-review-boxed-en")
        # Deleting a box takes it off the list and the page.
        page.locator("#box-list li.box-item").nth(1).locator("button.delete-box").click()
        expect(page.locator("#box-list li.box-item")).to_have_count(1)
        assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
        context.close()

        # Accessibility in both languages, with the work done above on the page.
        for lang, locale in (("en", "en-GB"), ("zh", "zh-CN")):
            checked = chromium.new_context(
                viewport={"width": 1280, "height": 900}, locale=locale, bypass_csp=True
            )
            page = checked.new_page()
            sign_in(page, base, world.applicant.email, PASSWORD)
            page.goto(base + url)
            expect(page.locator("#finding-groups li.finding-group")).to_have_count(2)
            expect(page.locator("#box-list li.box-item")).to_have_count(1)
            if lang == "zh":
                expect(page.locator("h1")).to_contain_text("审核")
            audit(page, axe_script, f"applicant-review-{lang}")
            shoot(page, f"applicant-review-{lang}-after")
            page.set_viewport_size(PHONE)  # type: ignore[arg-type]
            page.wait_for_timeout(100)
            no_sideways_scroll(page, f"applicant-review-{lang}-phone")
            shoot(page, f"applicant-review-{lang}-phone")
            checked.close()


def test_review_page_is_the_applicants_only(stack: Stack) -> None:
    world = seed_world(stack.settings)
    app = create_app(stack.settings)
    client = app.test_client()
    case_id = new_case(client, world, "Nobody else's", PURCHASE_ORDER_POLICY)
    for account in (world.supplier, world.bureau, world.outsider):
        res = client.get(f"/cases/{case_id}/review", headers=bearer(account))
        assert res.status_code in (403, 404), (account.email, res.status_code)
        assert b"Nobody else" not in res.get_data()
    res = client.get(f"/cases/{case_id}/review", headers=bearer(world.applicant))
    assert res.status_code == 200 and b"This case has no files yet." in res.get_data()
    unknown = client.get(f"/cases/{case_id}/review?file=nope", headers=bearer(world.applicant))
    assert unknown.status_code == 404
    app.extensions["exchange"].database.dispose()

"""The inbox in Debian's headless Chromium: phone width, the bureau's forms, both languages, axe-core.

The case is sealed through the API and the real worker; the bureau then asks
for information in the page, the supplier sees that (not what) was asked, and
the applicant reads the question on the case page and starts a supplement
with the page's form. Screenshots go to the accessibility tests' artefacts
directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect

from exchange import create_app
from tests.conftest import Stack
from tests.functional.browser import browser, live_server, sign_in
from tests.functional.sealed_case import seal_case
from tests.functional.test_accessibility import audit, axe_script, screenshot_dir  # noqa: F401 (a fixture)
from tests.seed import PASSWORD, bearer, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.sqlite_only]

PHONE = {"width": 375, "height": 812}
QUESTION = "Please send the end-user certificate and the delivery schedule."


def _no_sideways_scroll(page: Page, name: str) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    assert max(widths[0], widths[1]) <= widths[2], f"{name}: the page scrolls sideways {widths}"


def _shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshot_dir() / f"{name}.png"), full_page=True)


def test_inbox_at_phone_width_request_form_and_languages(stack: Stack, axe_script: Path) -> None:  # noqa: F811
    world = seed_world(stack.settings)
    app = create_app(stack.settings)
    client: FlaskClient = app.test_client()
    sealed = seal_case(client, world)
    case_id = sealed.case_id
    with live_server(app) as base, browser() as chromium:
        # The axe script is injected by the test, so the page's CSP must let it in.
        context = chromium.new_context(locale="en-GB", viewport=PHONE, bypass_csp=True)  # type: ignore[arg-type]
        page = context.new_page()
        sign_in(page, base, world.bureau.email, PASSWORD)
        expect(page).to_have_url(f"{base}/inbox")  # "/" sends recipients to their inbox
        card = page.locator(f"#case-{case_id}")
        expect(card.locator("h2")).to_have_text("Matrix case")
        expect(card.locator(".sender")).to_have_text(world.applicant.org)
        expect(card.locator(".version h3")).to_contain_text("Version 1")
        expect(card.locator(".bundle-files")).to_contain_text("orders.txt")
        expect(card.locator(".download-state")).to_have_text("Not downloaded yet")
        expect(card.locator(".version-meta")).to_contain_text("UTC")
        expect(page.locator("#verify-help")).to_contain_text("openssl pkeyutl -verify")
        _no_sideways_scroll(page, "bureau inbox, English")
        audit(page, axe_script, "inbox-bureau-en")
        _shoot(page, "inbox-bureau-en")

        # An empty message is refused by the browser; a too-long one cannot be typed.
        form = card.locator("form.request-form")
        assert form.locator("textarea").get_attribute("maxlength") == "4000"
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(f"{base}/inbox")
        assert page.locator(".flash").count() == 0
        # The real request, with the label as the way in (keyboard users and screen readers).
        page.get_by_label("Ask the applicant for more information").fill(QUESTION)
        form.locator("button[type=submit]").click()
        expect(page.locator(".flash")).to_contain_text("Your request was sent to the applicant.")
        expect(card.locator(".bureau-status-value")).to_have_text("information requested")
        expect(card.locator(".requests .request-message")).to_have_text(QUESTION)
        expect(card.locator(f"#status-{case_id}")).to_have_value("information_requested")
        _no_sideways_scroll(page, "bureau inbox after the request")

        # The same inbox in Chinese, as the bureau works.
        page.click("#language-form button")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.locator("h1")).to_contain_text("收件箱")
        expect(card.locator(".bureau-status-value")).to_have_text("已要求补充信息")
        expect(card.locator(".version h3")).to_contain_text("版本 1")
        expect(page.locator("#verify-help h2")).to_have_text("如何验证并打开数据包")
        _no_sideways_scroll(page, "bureau inbox, Chinese")
        audit(page, axe_script, "inbox-bureau-zh")
        _shoot(page, "inbox-bureau-zh")
        context.close()

        # The supplier sees that information was requested, never the question.
        context = chromium.new_context(locale="zh-CN", viewport=PHONE, bypass_csp=True)  # type: ignore[arg-type]
        page = context.new_page()
        sign_in(page, base, world.supplier.email, PASSWORD)
        expect(page).to_have_url(f"{base}/inbox")
        card = page.locator(f"#case-{case_id}")
        expect(card.locator(".bureau-status-value")).to_have_text("已要求补充信息")
        expect(card.locator(".requested")).to_contain_text("1")
        assert QUESTION not in page.content()
        assert page.locator("form.request-form").count() == 0
        with page.expect_download() as download:
            card.locator(".download-row a").click()
        assert download.value.suggested_filename.endswith(".tar.age")
        page.reload()
        expect(card.locator(".download-state")).to_contain_text("已下载")
        _no_sideways_scroll(page, "supplier inbox, Chinese")
        audit(page, axe_script, "inbox-supplier-zh")
        _shoot(page, "inbox-supplier-zh")
        context.close()

        # The applicant reads the question and starts a supplement from the case page.
        context = chromium.new_context(locale="en-GB", viewport=PHONE, bypass_csp=True)  # type: ignore[arg-type]
        page = context.new_page()
        sign_in(page, base, world.applicant.email, PASSWORD)
        page.goto(f"{base}/cases/{case_id}")
        exchange = page.locator("#case-exchange")
        expect(exchange.locator("#bureau-status")).to_have_text("information requested")
        expect(exchange.locator(".request-message")).to_have_text(QUESTION)
        _shoot(page, "case-exchange-applicant-en")
        page.click("#start-supplement")
        expect(page).to_have_url(f"{base}/cases/{case_id}")
        expect(page.locator(".flash")).to_contain_text("draft of version 2")
        context.close()
    res = client.get(f"/api/v1/cases/{case_id}", headers=bearer(world.applicant)).get_json()
    assert res["status"] == "draft" and res["version"] == 2
    app.extensions["exchange"].database.dispose()

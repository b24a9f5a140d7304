"""The policy editor in Debian's headless Chromium: fill the form, test a pattern live, import, save.

The editing runs under the page's real Content-Security-Policy (a console
message about a refused script or style fails the test); the axe-core
checks run in contexts that bypass CSP only to inject axe itself, as in
``test_accessibility``. Screenshots in English and Chinese go to the same
artefacts directory as the accessibility screenshots.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect

from exchange import create_app
from exchange.domain.detection import load_policy
from tests.conftest import Stack
from tests.functional.browser import browser, live_server, sign_in
from tests.functional.test_accessibility import PHONE, audit, axe_script, no_sideways_scroll, screenshot_dir
from tests.seed import PASSWORD, World, bearer, new_case, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.sqlite_only]

__all__ = ["axe_script"]  # the fixture, shared with the accessibility test

CJK = "宁波瀚海磁电有限公司"
POLICY = """version: 1
name: browser editor
terms:
  customers: ["Kestrel Dynamics GmbH"]
recipients:
  bureau: {redact: [CUSTOMER]}
  supplier: {redact: [CUSTOMER, PERSON]}
"""
SAMPLE = "Order KD-4471-ZX and KD-1234-AB for 宁波; not KD-12-AB."


def customer_list(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Customer", "Units", "Check"])
    sheet.append([CJK, 800, '=A2&"x"'])
    sheet.append(["Oakridge Acoustics Ltd", 50, '=A3&"x"'])
    sheet.append(["Total", "=SUM(B2:B3)", None])
    book.save(path)
    return path


def new_page(chromium: Browser, base: str, world: World, lang: str, *, bypass_csp: bool) -> Page:
    context = chromium.new_context(
        locale="zh-CN" if lang == "zh" else "en-GB",
        viewport={"width": 1280, "height": 900},
        bypass_csp=bypass_csp,
    )
    page = context.new_page()
    sign_in(page, base, world.applicant.email, PASSWORD)
    return page


def test_fill_test_a_pattern_import_and_save(stack: Stack, tmp_path: Path, axe_script: Path) -> None:
    world = seed_world(stack.settings)
    app = create_app(stack.settings)
    case_id = new_case(app.test_client(), world, "Policy editor journey", POLICY)
    listing = customer_list(tmp_path / "customers.xlsx")
    with live_server(app) as base, browser() as chromium:
        page = new_page(chromium, base, world, "en", bypass_csp=False)
        refused: list[str] = []
        page.on(
            "console",
            lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(f"{base}/cases/{case_id}/policy")
        expect(page.locator("h1")).to_have_text("Redaction policy")
        # Tabs: the script turns the two editors into tabs; arrows move between them.
        expect(page.locator("#yaml-panel")).to_be_hidden()
        page.focus("#tab-form")
        page.keyboard.press("ArrowRight")
        expect(page.locator("#tab-yaml")).to_be_focused()
        expect(page.locator("#policy-yaml")).to_have_value(POLICY)
        page.click("#tab-form")
        expect(page.locator("#form-panel")).to_be_visible()

        page.fill("#f-name", "Magnets for loudspeakers")
        page.fill("#f-customers", "Kestrel Dynamics GmbH\n" + CJK)
        page.fill("#f-trade-secrets", "grain boundary diffusion")

        # Live pattern test: the matches are highlighted as detection would find them.
        page.fill("#pattern-name-0", "PART_NUMBER")
        page.fill("#pattern-regex-0", r"KD-\d{4}-[A-Z]{2}")
        page.fill("#pattern-sample", SAMPLE)
        marks = page.locator("#pattern-test-result mark")
        expect(marks).to_have_count(2)
        expect(marks.nth(0)).to_have_text("KD-4471-ZX")
        expect(marks.nth(1)).to_have_text("KD-1234-AB")
        expect(page.locator("#pattern-test-status")).to_contain_text("Matches: 2.")
        page.fill("#pattern-regex-0", r"(KD)-\1")
        expect(page.locator("#pattern-test-status")).to_contain_text("backreferences are not supported")
        expect(marks).to_have_count(0)
        page.fill("#pattern-regex-0", r"KD-\d{4}-[A-Z]{2}")
        expect(marks).to_have_count(2)
        shoot = screenshot_dir()
        page.screenshot(path=str(shoot / "policy-editor-en.png"), full_page=True)

        # A new pattern row; naming it adds its type, ticked for every recipient.
        page.click("#add-pattern")
        page.fill("#pattern-name-2", "ORDER_REF")
        page.fill("#pattern-regex-2", r"(?i)order \d+")
        page.locator("#pattern-name-2").blur()
        expect(page.locator("#supplier-redact-ORDER_REF")).to_be_checked()
        page.uncheck("#bureau-redact-ORDER_REF")
        page.uncheck("#supplier-redact-PERSON")
        page.check("#bureau-redact-TRADE_SECRET")
        page.check("input[name=bureau-images][value=remove]")
        page.fill("#supplier-keep", "Kestrel Dynamics GmbH")

        # The customer list: the column is picked by its header.
        page.set_input_files("#f-customers-file", str(listing))
        expect(page.locator("#column-choice")).to_be_visible()
        expect(page.locator("#f-column-select option")).to_have_count(3)
        expect(page.locator("#f-column-select")).to_have_value("Customer")
        expect(page.locator("#column-sample")).to_contain_text(CJK)
        page.click("#import-customers")
        expect(page.locator(".flash")).to_contain_text("2 customer(s) imported")
        assert not refused, refused

        res = app.test_client().get(f"/api/v1/cases/{case_id}/policy", headers=bearer(world.applicant))
        policy = load_policy(res.get_json()["text"])
        assert policy.name == "Magnets for loudspeakers"
        assert policy.customers == ("Kestrel Dynamics GmbH", CJK, "Oakridge Acoustics Ltd", "Total")
        assert policy.patterns == {"PART_NUMBER": r"KD-\d{4}-[A-Z]{2}", "ORDER_REF": r"(?i)order \d+"}
        supplier, bureau = policy.recipients["supplier"], policy.recipients["bureau"]
        assert supplier.redact == {"CUSTOMER", "PART_NUMBER", "ORDER_REF"}
        assert bureau.redact == {"CUSTOMER", "TRADE_SECRET", "PART_NUMBER"}
        assert bureau.images == "remove" and supplier.keep == ("Kestrel Dynamics GmbH",)

        # The saved form shows what was saved, and the advanced tab the text.
        expect(page.locator("#supplier-redact-PERSON")).not_to_be_checked()
        expect(page.locator("#f-customers")).to_have_value(
            "\n".join(("Kestrel Dynamics GmbH", CJK, "Oakridge Acoustics Ltd", "Total"))
        )
        page.click("#tab-yaml")
        expect(page.locator("#policy-yaml")).to_contain_text("ORDER_REF")
        page.context.close()

        # Accessibility and the Chinese page (axe is injected, so these contexts bypass CSP).
        for lang in ("en", "zh"):
            page = new_page(chromium, base, world, lang, bypass_csp=True)
            page.goto(f"{base}/cases/{case_id}/policy")
            page.fill("#pattern-sample", SAMPLE)
            expect(page.locator("#pattern-test-result mark")).to_have_count(2)
            if lang == "zh":
                expect(page.locator("h1")).to_have_text("脱敏策略")
                expect(page.locator("#tab-yaml")).to_have_text("高级（YAML/JSON）")
                page.screenshot(path=str(shoot / "policy-editor-zh.png"), full_page=True)
            audit(page, axe_script, f"policy editor ({lang})")
            page.click("#tab-yaml")
            audit(page, axe_script, f"policy editor, advanced tab ({lang})")
            page.click("#tab-form")
            page.set_viewport_size(PHONE)
            no_sideways_scroll(page, f"policy editor at phone width ({lang})")
            page.context.close()
    app.extensions["exchange"].database.dispose()

"""The case page in Debian's headless Chromium: keyboard uploads, progress, live state, approve confirmation.

The main journey runs with the pages' real Content-Security-Policy (no
bypass), so every behaviour here comes from app.js as served. axe-core needs
an injected script tag, so the accessibility checks and the screenshots (in
English and Chinese) run in separate contexts that bypass CSP.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FileChooser, Page, expect

from exchange import create_app
from tests.conftest import Stack
from tests.corpus.orders import PURCHASE_ORDER_POLICY
from tests.functional.browser import browser, drop_files, live_server, sign_in
from tests.functional.test_accessibility import (
    LANGUAGES,
    audit,
    axe_script,  # noqa: F401  (a fixture, used by name)
    screenshot_dir,
)
from tests.seed import PASSWORD, World, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.sqlite_only]

LONG_NAME = "delivery-schedule-for-the-second-half-of-the-year-with-every-segment-" + "x" * 60 + ".txt"
RED = "rgb(164, 22, 26)"


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshot_dir() / f"case-page-{name}.png"), full_page=True)


def status_is(page: Page, state: str, timeout: float = 180_000) -> None:
    expect(page.locator("#case-status")).to_have_attribute("data-status", state, timeout=timeout)


def next_chooser(page: Page, choosers: list[FileChooser], action: Callable[[], None]) -> FileChooser:
    """The file chooser ``action`` opens (within five seconds), else fail."""
    seen = len(choosers)
    action()
    for _ in range(50):
        if len(choosers) > seen:
            return choosers[-1]
        page.wait_for_timeout(100)
    raise AssertionError("no file chooser opened")


def screenshots_and_axe(chromium: Browser, base: str, world: World, case_id: str, axe: Path) -> None:
    """Case list, case page and approve summary, audited and saved in both languages."""
    for lang, locale in LANGUAGES.items():
        context = chromium.new_context(
            locale=locale, viewport={"width": 1280, "height": 900}, bypass_csp=True
        )
        page = context.new_page()
        sign_in(page, base, world.applicant.email, PASSWORD)
        for name, path in (
            ("list", "/cases"),
            ("case", f"/cases/{case_id}"),
            ("approve", f"/cases/{case_id}/approve"),
        ):
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            if name == "case":
                expect(page.locator("#files tbody tr").first).to_be_visible()
            if name == "approve":
                expect(page.locator("section.recipient")).to_have_count(2)
            audit(page, axe, f"case-page-{name}-{lang}")
            shoot(page, f"{name}-{lang}")
        context.close()


def test_case_page_journey(stack: Stack, tmp_path: Path, axe_script: Path) -> None:  # noqa: F811  (the imported fixture)
    world = seed_world(stack.settings)
    app = create_app(stack.settings)
    with live_server(app) as base, browser() as chromium:
        context = chromium.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # Script errors only: the refused upload's 422 is logged by Chromium as a failed resource.
        page.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )
        # Listening from the start keeps Chromium's file dialogs intercepted: a dialog that opened
        # natively (a listener added too late) would block every later one.
        choosers: list[FileChooser] = []
        page.on("filechooser", lambda chooser: choosers.append(chooser))  # noqa: PLW0108  (Playwright tags its handler; a bound builtin cannot be)
        sign_in(page, base, world.applicant.email, PASSWORD)

        # Organisations come from lists of the registered ones.
        page.fill("#new-case input[name=title]", "Magnets, second half")
        page.select_option("#new-case select[name=supplier_org]", world.supplier.org)
        page.select_option("#new-case select[name=bureau_org]", world.bureau.org)
        page.click("#new-case button[type=submit]")
        expect(page.locator("h1")).to_have_text("Magnets, second half")
        case_id = page.locator("#case").get_attribute("data-case-id")
        assert case_id
        status_is(page, "draft")
        expect(page.locator("#approve-case")).to_have_count(0)
        page.fill("#policy-text", PURCHASE_ORDER_POLICY)
        page.click("#save-policy")
        expect(page.locator("#policy-message")).to_contain_text("version 1")

        # The drop zone is a keyboard control: Enter and Space open the file chooser.
        first = tmp_path / "order.txt"
        first.write_text("Order 17 for Kestrel Dynamics GmbH: 500 arc segments.\n")
        second = tmp_path / LONG_NAME
        second.write_text("Kestrel Dynamics GmbH, delivery " + "week 27; " * 400 + "\n")
        for done, (key, chosen) in enumerate((("Enter", first), ("Space", second)), start=1):
            page.focus("#dropzone")
            chooser = next_chooser(page, choosers, lambda key=key: page.keyboard.press(key))
            assert chooser.is_multiple()
            chooser.set_files(str(chosen))
            # One after the other: the table's order is the order in which uploads arrived.
            expect(page.locator("#uploads li.done")).to_have_count(done, timeout=30_000)
        expect(page.locator("#uploads li.done")).to_have_count(2, timeout=30_000)
        for bar in page.locator("#uploads li.done .upload-bar").all():
            expect(bar).to_have_js_property("value", 100)
        # A long name wraps inside the list instead of widening the page.
        long_item = page.locator("#uploads li", has_text="delivery-schedule")
        assert long_item.bounding_box()["width"] <= 1280  # type: ignore[index]
        assert page.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth")
        shown = f"{second.stat().st_size / 1024:.1f} KB"  # 1 KB = 1024 B, one decimal
        expect(page.locator("#files tr", has_text="delivery-schedule")).to_contain_text(shown)

        # Several files by drag and drop; a refused one turns its bar red with the server's reason.
        drop_files(page, "#dropzone", {"notes.txt": "We rely on grain boundary diffusion.\n"})
        expect(page.locator("#uploads li.done")).to_have_count(3, timeout=30_000)
        fake = tmp_path / "scan.pdf"
        fake.write_text("this is not a PDF at all\n")
        page.set_input_files("#file-input", str(fake))
        failed = page.locator("#uploads li.failed")
        expect(failed).to_have_count(1, timeout=30_000)
        expect(failed.locator(".upload-status")).to_contain_text("Upload failed:")
        reason = failed.locator(".upload-status").inner_text()
        assert "pdf" in reason.lower(), reason
        assert failed.locator(".upload-bar").evaluate("(e) => getComputedStyle(e).accentColor") == RED
        assert failed.locator(".upload-status").evaluate("(e) => getComputedStyle(e).color") == RED
        # Files follow upload order.
        expect(page.locator("#files tbody tr .file-name")).to_have_text(
            ["order.txt", LONG_NAME, "notes.txt"], timeout=10_000
        )

        expect(page.locator("#files .remove-file")).to_have_count(3)
        assert not errors, errors

        # Submit: progress is followed live, and the state and actions change without a reload.
        page.evaluate("() => { window.__sameDocument = true; }")
        page.click("#submit-case")
        expect(page.locator("#action-message")).to_contain_text("Submitted")
        status_is(page, "review")
        expect(page.locator("#approve-case")).to_be_visible()
        expect(page.locator("#action-message")).to_have_text("")  # the old message went with the old state
        assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
        expect(page.locator("#files tbody tr .review-link")).to_have_count(3)
        page.locator("#files details summary").first.click()
        expect(page.locator("#files .findings .term").first).to_contain_text("Kestrel Dynamics GmbH")

        # Uploading into a case in review asks first; declining uploads nothing.
        extra = tmp_path / "late.txt"
        extra.write_text("A late note.\n")
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.set_input_files("#file-input", str(extra))
        page.wait_for_timeout(500)
        expect(page.locator("#uploads li")).to_have_count(4)
        status_is(page, "review")
        messages: list[str] = []

        def accept(dialog: object) -> None:
            messages.append(dialog.message)  # type: ignore[attr-defined]
            dialog.accept()  # type: ignore[attr-defined]

        page.once("dialog", accept)
        page.set_input_files("#file-input", str(extra))
        expect(page.locator("#action-message")).to_contain_text("went back to draft", timeout=30_000)
        assert "back to draft" in messages[0]
        status_is(page, "draft")
        expect(page.locator("#approve-case")).to_have_count(0)
        page.click("#submit-case")
        status_is(page, "review")

        screenshots_and_axe(chromium, base, world, case_id, axe_script)

        # Approve opens the summary, which blocks until the applicant confirms.
        page.click("#approve-case")
        expect(page).to_have_url(f"{base}/cases/{case_id}/approve")
        expect(
            page.locator("section.recipient[data-recipient=supplier] table.shared tbody tr")
        ).to_have_count(4)
        confirm = page.locator("#approve-submit")
        expect(confirm).to_be_disabled()
        confirm.click(force=True)
        expect(page).to_have_url(f"{base}/cases/{case_id}/approve")
        page.check("#approve-confirm")
        expect(confirm).to_be_enabled()
        # The page after the redirect says so; sealing may end before the page's first poll, and
        # then the script clears the message at once, so it is read from the answer itself.
        with page.expect_response(lambda r: r.url == f"{base}/cases/{case_id}") as landed:
            confirm.click()
        expect(page).to_have_url(f"{base}/cases/{case_id}")
        assert "Approved" in landed.value.text()
        status_is(page, "sealed", timeout=120_000)
        expect(page.locator("main .flash")).to_have_count(0)  # no stale message once sealed

        # Sealed is read-only: no upload, policy edit, submit or approve; archiving stays.
        for gone in ("#dropzone", "#save-policy", "#submit-case", "#approve-case", "#files .remove-file"):
            expect(page.locator(gone)).to_have_count(0)
        expect(page.locator("#archive-case")).to_be_visible()
        expect(page.locator("#timeline")).to_contain_text("Sealed, version 1")
        shoot(page, "sealed-en")
        assert not errors, errors
        context.close()

"""The browser journey in Debian's headless Chromium: applicant to supplier download."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from exchange import create_app
from exchange.domain.bundles.sealing import open_sealed
from tests.conftest import Stack
from tests.corpus.orders import PURCHASE_ORDER_POLICY
from tests.functional.browser import browser, drop_files, live_server, sign_in, sign_out
from tests.seed import PASSWORD, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.sqlite_only]


def test_applicant_uploads_and_approves_then_supplier_downloads(stack: Stack, tmp_path: Path) -> None:
    world = seed_world(stack.settings)
    app = create_app(stack.settings)
    with live_server(app) as base, browser() as chromium:
        page = chromium.new_page(accept_downloads=True)
        sign_in(page, base, world.applicant.email, PASSWORD)
        expect(page).to_have_url(f"{base}/cases")
        page.fill("#new-case input[name=title]", "Magnets for loudspeakers")
        page.select_option("#new-case select[name=supplier_org]", world.supplier.org)
        page.select_option("#new-case select[name=bureau_org]", world.bureau.org)
        page.click("#new-case button[type=submit]")
        expect(page.locator("h1")).to_have_text("Magnets for loudspeakers")

        page.fill("#policy-text", PURCHASE_ORDER_POLICY)
        page.click("#save-policy")
        expect(page.locator("#policy-message")).to_contain_text("version 1")

        chosen = tmp_path / "order.txt"
        chosen.write_text("Order 17 for Kestrel Dynamics GmbH: 500 arc segments.\n")
        page.set_input_files("#file-input", [str(chosen)])
        drop_files(
            page,
            "#dropzone",
            {
                "notes.txt": "We rely on grain boundary diffusion.\n",
                "memo.txt": "Kestrel Dynamics called about delivery.\n",
            },
        )
        expect(page.locator("#uploads li.done")).to_have_count(3, timeout=30_000)
        expect(page.locator("#files tbody tr")).to_have_count(3)

        page.click("#submit-case")
        expect(page.locator("#case-status")).to_have_attribute("data-status", "review", timeout=180_000)
        # Per recipient: OCR and review facts from the engine report (text files need no OCR).
        supplier_output = page.locator("#files .output[data-recipient=supplier] .output-ocr").first
        expect(supplier_output).to_have_text("no OCR")
        expect(page.locator("#file-input")).to_have_attribute("accept", re.compile(r"\.pdf.*\.heic"))
        page.locator("#files details summary").first.click()
        expect(page.locator("#files .findings li").first).to_be_visible()
        # Approving goes through the summary and an explicit confirmation.
        page.click("#approve-case")
        page.check("#approve-confirm")
        page.click("#approve-submit")
        expect(page.locator("#case-status")).to_have_attribute("data-status", "sealed", timeout=120_000)
        sign_out(page)

        sign_in(page, base, world.supplier.email, PASSWORD)
        expect(page).to_have_url(f"{base}/inbox")  # recipients land in their inbox
        with page.expect_download() as info:
            page.click(".download-row a.button")
        saved = tmp_path / "bundle.tar.age"
        info.value.save_as(saved)
        sign_out(page)

        # The applicant sees the supplier's download in the case's access log, chain intact.
        sign_in(page, base, world.applicant.email, PASSWORD)
        page.click("table a")  # the case, from the case list
        page.click("text=Access log")
        expect(page.locator("body")).to_contain_text("intact")
        row = page.locator("#access-log tr", has_text="bundle.download")
        expect(row).to_contain_text(world.supplier.email)
        expect(row).to_contain_text("ok")

    plain = io.BytesIO()
    with saved.open("rb") as sealed:
        open_sealed(sealed, plain, world.supplier.identity or "")
    plain.seek(0)
    with tarfile.open(fileobj=plain) as tar:
        names = sorted(tar.getnames())
        text = b"".join(tar.extractfile(n).read() for n in names if n.startswith("files/")).decode()  # type: ignore[union-attr]
    assert names == ["files/memo.txt", "files/notes.txt", "files/order.txt", "manifest.json", "manifest.sig"]
    assert "500 arc segments" in text
    assert "kestrel" not in text.casefold() and "grain boundary" not in text.casefold()

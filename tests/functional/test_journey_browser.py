"""The whole journey of issue 10 in Debian's headless Chromium, one user after the other.

The applicant signs in with TOTP (the organisation requires it), imports a
policy (YAML, then customers from an XLSX column beside a formula column),
uploads with progress, reviews with one rejected finding and one manual box,
submits again and approves after the summary. The supplier downloads its
bundle from the inbox; the bundle is opened here and read with poppler
(pdftotext, pdftoppm), not our code: the rejected finding is present and the
boxed text is gone, its region painted. The bureau asks for more information;
the applicant sends a supplement; a second version appears in the bureau's
inbox, linked to the first. Screenshots of each main page, in English and in
Chinese, go where the other browser tests put theirs.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

import openpyxl
import pyotp
import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect

from exchange import create_app
from exchange.services import accounts
from tests.conftest import Stack
from tests.corpus.orders import DELIVERY_STREET, PURCHASE_ORDER, PURCHASE_ORDER_POLICY, Line, order_pdf
from tests.functional.accounts_flow import operator
from tests.functional.browser import browser, live_server, sign_in
from tests.functional.test_accessibility import (  # noqa: F401  (axe_script: a fixture)
    audit,
    axe_script,
    shoot,
)
from tests.functional.test_api_flow import open_bundle
from tests.functional.test_review_page import draw_box
from tests.seed import PASSWORD, World, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.sqlite_only]

QUESTION = "Please add the end-use statement for the second delivery."
BOXED = DELIVERY_STREET
#: the purchase order with a second buyer, a customer only once the policy imports it from the spreadsheet
ORDER: tuple[Line, ...] = (*PURCHASE_ORDER, (600, "Second buyer: Oakridge Acoustics Ltd"))


def customer_list(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Customer", "Letters"])
    sheet.append(["Oakridge Acoustics Ltd", "=LEN(A2)"])  # a formula beside the column must not matter
    book.save(path)
    return path


def word_box(pdf: Path, word: str) -> tuple[float, float, float, float]:
    """Where poppler puts ``word`` on page 1, as fractions of the page (origin top left)."""
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "1", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    size = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', html)
    found = re.search(
        rf'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">{word}</word>', html
    )
    assert size and found, html[:500]
    width, height = float(size.group(1)), float(size.group(2))
    x0, y0, x1, y1 = (float(v) for v in found.groups())
    return x0 / width, y0 / height, x1 / width, y1 / height


def page_pixels(pdf: Path) -> Image.Image:
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf), f"{work}/page"],
            capture_output=True,
            check=True,
        )
        return Image.open(f"{work}/page.png").convert("L")


def ocr(pdf: Path) -> str:
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(
            ["pdftoppm", "-png", "-r", "200", "-f", "1", "-l", "1", "-singlefile", str(pdf), f"{work}/page"],
            capture_output=True,
            check=True,
        )
        done = subprocess.run(
            ["tesseract", f"{work}/page.png", "-", "-l", "eng"], capture_output=True, text=True, check=True
        )
        return done.stdout


def status_is(page: Page, state: str, timeout: float = 240_000) -> None:
    expect(page.locator("#case-status")).to_have_attribute("data-status", state, timeout=timeout)


def both_languages(page: Page, name: str, axe: Path) -> None:
    """Screenshot (and axe) the page in English, then in Chinese, and switch back."""
    expect(page.locator("html")).to_have_attribute("lang", re.compile("^en"))
    shoot(page, f"journey-{name}-en")
    page.click("#language-form button")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    audit(page, axe, f"journey-{name}-zh")
    shoot(page, f"journey-{name}-zh")
    page.click("#language-form button")
    expect(page.locator("html")).to_have_attribute("lang", re.compile("^en"))


def new_context(chromium: object, height: int = 1000) -> BrowserContext:
    # bypass_csp only so that axe-core can be injected; the review page's own test runs under CSP.
    return chromium.new_context(  # type: ignore[attr-defined,no-any-return]
        viewport={"width": 1280, "height": height}, locale="en-GB", bypass_csp=True
    )


def test_the_whole_journey(stack: Stack, tmp_path: Path, axe_script: Path) -> None:  # noqa: F811
    world: World = seed_world(stack.settings)
    with operator(stack.settings) as ctx:
        accounts.set_require_totp(ctx, world.applicant.org, True)
    source = tmp_path / "purchase-order-4711.pdf"
    source.write_bytes(order_pdf(ORDER, size=18))
    box = word_box(source, BOXED)
    app = create_app(stack.settings)
    with live_server(app) as base, browser() as chromium:
        applicant = new_context(chromium, height=2000)
        page = applicant.new_page()

        # -- the applicant: two-factor sign-in, enforced by the organisation ---------------------
        sign_in(page, base, world.applicant.email, PASSWORD)
        expect(page).to_have_url(re.compile(r"/security/totp"))
        authenticator = pyotp.TOTP(page.locator("#totp-secret").inner_text().strip())
        enrolled_at = time.time()
        page.fill("#enrol-form input[name=code]", authenticator.at(enrolled_at))
        page.click("#enrol-form button[type=submit]")
        expect(page.locator("#recovery-codes li")).to_have_count(10)
        page.click("#logout-form button")
        sign_in(page, base, world.applicant.email, PASSWORD)
        expect(page).to_have_url(re.compile(r"/login/code"))
        shoot(page, "journey-01-second-factor-en")
        page.fill("#code-form input[name=code]", authenticator.at(enrolled_at + 30))  # a later step
        page.click("#code-form button[type=submit]")

        # -- a case with organisations picked from the lists -----------------------------------
        page.goto(f"{base}/cases")
        both_languages(page, "02-case-list", axe_script)
        page.fill("#new-case input[name=title]", "NdFeB magnets, application 41")
        page.select_option("#new-case select[name=supplier_org]", world.supplier.org)
        page.select_option("#new-case select[name=bureau_org]", world.bureau.org)
        page.click("#new-case button[type=submit]")
        case_id = page.locator("#case").get_attribute("data-case-id")
        assert case_id

        # -- the policy: YAML in the advanced tab, then customers imported from an XLSX column ---
        page.goto(f"{base}/cases/{case_id}/policy")
        page.click("#tab-yaml")
        page.fill("#policy-yaml", PURCHASE_ORDER_POLICY)
        page.click("#save-yaml")
        expect(page.locator(".flash")).to_contain_text("version 1")
        page.click("#tab-form")
        page.set_input_files("#f-customers-file", str(customer_list(tmp_path / "customers.xlsx")))
        expect(page.locator("#f-column-select")).to_have_value("Customer")
        page.click("#import-customers")
        expect(page.locator(".flash")).to_contain_text("1 customer(s) imported")
        expect(page.locator("#f-customers")).to_contain_text("Oakridge Acoustics Ltd")
        both_languages(page, "03-policy", axe_script)

        # -- upload with progress, submit, wait for review ------------------------------------------
        page.goto(f"{base}/cases/{case_id}")
        page.set_input_files("#file-input", str(source))
        expect(page.locator("#uploads li.done")).to_have_count(1, timeout=60_000)
        expect(page.locator("#uploads li.done .upload-bar")).to_have_js_property("value", 100)
        page.click("#submit-case")
        status_is(page, "review")
        both_languages(page, "04-case-in-review", axe_script)
        file_id = page.locator("#files tbody tr .review-link").first.get_attribute("href")
        assert file_id and "file=" in file_id
        review_url = base + file_id + "&view=supplier"

        # -- review: reject the customer finding for the supplier, box the delivery address -------
        page.goto(review_url)
        expect(page.locator("#original-img")).to_be_visible(timeout=120_000)
        page.wait_for_function("() => document.querySelector('#original-img').complete", timeout=120_000)
        group = page.locator('#finding-groups li[data-term="Kestrel Dynamics GmbH"]')
        group.locator("button.keep-one").click()
        expect(group.locator('.decision[data-recipient="supplier"]')).to_have_class("decision decision-keep")
        margin = 0.01
        draw_box(page, box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)
        expect(page.locator("#box-list li.box-item")).to_have_count(1)
        both_languages(page, "05-review", axe_script)

        # -- the change takes effect on the next submit; approve after the summary --------------
        page.goto(f"{base}/cases/{case_id}")
        page.click("#submit-case")
        status_is(page, "review")
        page.click("#approve-case")
        expect(page).to_have_url(f"{base}/cases/{case_id}/approve")
        expect(page.locator("section.recipient")).to_have_count(2)
        expect(page.locator("#approve-submit")).to_be_disabled()
        both_languages(page, "06-approve-summary", axe_script)
        page.check("#approve-confirm")
        page.click("#approve-submit")
        status_is(page, "sealed")
        expect(page.locator("#timeline")).to_contain_text("Sealed")

        # -- the supplier downloads from its inbox, and the bundle honours the review -------------
        supplier = new_context(chromium)
        spage = supplier.new_page()
        sign_in(spage, base, world.supplier.email, PASSWORD)
        card = spage.locator(f"#case-{case_id}")
        expect(card).to_be_visible()
        with spage.expect_download() as download:
            card.locator(".download-row a").first.click()
        raw = Path(download.value.path()).read_bytes()
        members = open_bundle(raw, world.supplier.identity or "")
        (pdf_name,) = [name for name in members if name.endswith(".pdf")]
        shared = tmp_path / "shared.pdf"
        shared.write_bytes(members[pdf_name])
        # A boxed page is burnt into an image (nothing under the box can survive), so the page is
        # read as pixels, by Tesseract, and its text layer must not hold what the review removed.
        layer = subprocess.run(["pdftotext", str(shared), "-"], capture_output=True, text=True, check=True)
        assert BOXED not in layer.stdout and "Oakridge" not in layer.stdout, layer.stdout
        seen = " ".join(ocr(shared).split())
        assert "Kestrel Dynamics" in seen, f"the rejected finding must stay: {seen!r}"
        assert "Purchase order 4711" in seen, seen
        assert BOXED not in seen and "Oakridge" not in seen and "grain boundary" not in seen, seen
        pixels = page_pixels(shared)
        region = pixels.crop(
            (
                int(box[0] * pixels.width),
                int(box[1] * pixels.height),
                int(box[2] * pixels.width),
                int(box[3] * pixels.height),
            )
        )
        assert region.getextrema()[1] < 80, "the boxed region is not painted"
        spage.reload()
        expect(card.locator(".download-state")).to_contain_text("Downloaded")
        both_languages(spage, "07-supplier-inbox", axe_script)
        supplier.close()

        # -- the bureau asks for more information ----------------------------------------------------
        bureau = new_context(chromium)
        bpage = bureau.new_page()
        sign_in(bpage, base, world.bureau.email, PASSWORD)
        card = bpage.locator(f"#case-{case_id}")
        card.get_by_label("Ask the applicant for more information").fill(QUESTION)
        card.locator("form.request-form button[type=submit]").click()
        expect(bpage.locator(".flash")).to_contain_text("Your request was sent to the applicant.")

        # -- the applicant reads it and sends a supplement: the same scan, review and approval ----
        page.goto(f"{base}/cases/{case_id}")
        expect(page.locator("#case-exchange .request-message")).to_have_text(QUESTION)
        both_languages(page, "08-information-requested", axe_script)
        page.click("#start-supplement")
        expect(page.locator(".flash")).to_contain_text("version 2")
        status_is(page, "draft")
        supplement = tmp_path / "end-use-statement.txt"
        supplement.write_text("End use: loudspeaker drivers for Kestrel Dynamics GmbH, second delivery.\n")
        page.set_input_files("#file-input", str(supplement))
        expect(page.locator("#uploads li.done")).to_have_count(1, timeout=60_000)
        page.click("#submit-case")
        status_is(page, "review")
        page.click("#approve-case")
        page.check("#approve-confirm")
        page.click("#approve-submit")
        status_is(page, "sealed")
        both_languages(page, "09-case-sealed-v2", axe_script)

        # -- the bureau sees the second version after the first ----------------------------------------
        bpage.goto(f"{base}/inbox")
        versions = card.locator("li.version")
        expect(versions).to_have_count(2)
        expect(card.locator('li.version[data-version="2"]')).to_be_visible()
        expect(card.locator('li.version[data-version="2"] .bundle-files')).to_contain_text(
            "end-use-statement"
        )
        both_languages(bpage, "10-bureau-inbox-v2", axe_script)
        bureau.close()
        applicant.close()
    app.extensions["exchange"].database.dispose()

"""Accessibility and both languages in Debian's headless Chromium, checked with axe-core.

Every main page (sign-in, cases, a case, bundles, access log, security) is
visited as the applicant, the supplier and the bureau, in English and in
Simplified Chinese (the browser's Accept-Language), and axe-core's WCAG 2 A
and AA rules must report nothing serious or critical. Inbox pages must not
scroll sideways at phone width. Each page is saved as a screenshot, a test
artefact under ``$SCREENSHOT_DIR`` (default ``tests/artifacts/screenshots``).

axe-core is not vendored: a session fixture installs it from the npm registry
once into a cache directory. It is injected as a script tag, which the pages'
CSP (no inline script) would block, so only these contexts bypass CSP.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Browser, BrowserContext, Page, expect

from exchange import create_app
from tests.conftest import Stack
from tests.functional.browser import browser, live_server, sign_in
from tests.functional.sealed_case import SealedCase, seal_case
from tests.seed import PASSWORD, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.sqlite_only]

AXE_VERSION = "4"
LANGUAGES = {"en": "en-GB", "zh": "zh-CN"}
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
BLOCKING = ("serious", "critical")


def screenshot_dir() -> Path:
    root = Path(__file__).resolve().parents[2]
    path = Path(os.environ.get("SCREENSHOT_DIR") or root / "tests" / "artifacts" / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core's ``axe.min.js``, installed once per machine into a cache directory."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "secure-exchange" / "axe-core"
    script = cache / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed (scripts/system-deps.sh installs it)")
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(cache),
                f"axe-core@{AXE_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return script


@dataclass
class Site:
    base: str
    chromium: Browser
    sealed: SealedCase


@pytest.fixture(scope="module")
def site(stack: Stack) -> Iterator[Site]:
    world = seed_world(stack.settings)
    app = create_app(stack.settings)
    client: FlaskClient = app.test_client()
    sealed = seal_case(client, world)
    with live_server(app) as base, browser() as chromium:
        yield Site(base, chromium, sealed)


def new_context(site: Site, lang: str, viewport: dict[str, int] = DESKTOP) -> BrowserContext:
    return site.chromium.new_context(locale=LANGUAGES[lang], viewport=viewport, bypass_csp=True)  # type: ignore[arg-type]


def audit(page: Page, axe: Path, name: str) -> None:
    """Run axe on the page as it stands; fail on serious or critical WCAG 2 A/AA violations."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(axe))
    result: dict[str, Any] = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
    )
    assert result["passes"], f"{name}: axe checked nothing"
    blocking = [v for v in result["violations"] if v["impact"] in BLOCKING]
    report = [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in blocking
    ]
    assert not blocking, f"{name}: axe found\n" + json.dumps(report, indent=1, ensure_ascii=False)


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshot_dir() / f"{name}.png"), full_page=True)


def no_sideways_scroll(page: Page, name: str) -> None:
    widths = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    wide = page.evaluate(
        "() => Array.from(document.querySelectorAll('body *'))"
        ".filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className)"
    )
    assert widths[0] <= widths[1], (
        f"{name} scrolls sideways at {widths[1]}px: {widths[0]}px wide, from {wide}"
    )


def visit(page: Page, site: Site, path: str) -> None:
    page.goto(site.base + path)
    page.wait_for_load_state("networkidle")


def expect_language(page: Page, lang: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if lang == "zh" else "en")


def pages_for(role: str, sealed: SealedCase) -> dict[str, str]:
    case = sealed.case_id
    if role == "applicant":
        return {
            "cases": "/cases",
            "case": f"/cases/{case}",
            "approve": f"/cases/{case}/approve",
            "access-log": f"/cases/{case}/access-log",
            "bundles": "/bundles",
            "security": "/security",
        }
    return {"bundles": "/bundles", "access-log": f"/cases/{case}/access-log", "security": "/security"}


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_sign_in_page(site: Site, axe_script: Path, lang: str) -> None:
    context = new_context(site, lang)
    page = context.new_page()
    visit(page, site, "/login")
    expect_language(page, lang)
    expect(page.locator("h1")).to_have_text("登录" if lang == "zh" else "Sign in")
    audit(page, axe_script, f"login-{lang}")
    shoot(page, f"anonymous-login-{lang}")
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    no_sideways_scroll(page, f"login-{lang}-phone")
    shoot(page, f"anonymous-login-{lang}-phone")
    context.close()


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
@pytest.mark.parametrize("role", ["applicant", "supplier", "bureau"])
def test_main_pages(site: Site, axe_script: Path, role: str, lang: str) -> None:
    account = getattr(site.sealed.world, role)
    context = new_context(site, lang)
    page = context.new_page()
    sign_in(page, site.base, account.email, PASSWORD)
    for name, path in pages_for(role, site.sealed).items():
        visit(page, site, path)
        expect_language(page, lang)
        if name == "access-log" and role != "applicant":
            continue  # only the applicant reads a case's access log; the others get a 403 page
        if name == "case":
            expect(page.locator("#case-status")).to_have_attribute("data-status", "sealed")
            expect(page.locator("#files tbody tr")).to_have_count(1)
        if name == "bundles" and role != "applicant":
            expect(page.locator("#bundles a.button")).to_have_count(1)
        audit(page, axe_script, f"{role}-{name}-{lang}")
        shoot(page, f"{role}-{name}-{lang}")
        page.set_viewport_size(PHONE)  # type: ignore[arg-type]
        page.wait_for_timeout(100)
        no_sideways_scroll(page, f"{role}-{name}-{lang}")
        shoot(page, f"{role}-{name}-{lang}-phone")
        page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    context.close()


def test_chinese_text_uses_a_cjk_font(site: Site) -> None:
    context = new_context(site, "zh")
    page = context.new_page()
    visit(page, site, "/login")
    family = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    assert "Noto Sans CJK SC" in family
    # A CJK glyph from a real CJK face is as wide as it is tall (about 1em); a missing-glyph box is not.
    width = page.evaluate(
        "() => { const s = document.createElement('span'); s.style.fontSize = '40px';"
        " s.textContent = '审查机关'; document.body.append(s);"
        " const w = s.getBoundingClientRect().width; s.remove(); return w; }"
    )
    assert 150 <= width <= 170, width
    context.close()


def test_keyboard_order_and_visible_focus_on_sign_in(site: Site) -> None:
    context = new_context(site, "en")
    page = context.new_page()
    visit(page, site, "/login")
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "() => { const e = document.activeElement; const s = getComputedStyle(e);"
                " const name = e.name || e.className || e.tagName.toLowerCase();"
                " return [name, s.outlineStyle, s.outlineWidth]; }"
            )
        )
    names = [o[0] for o in order]
    # Skip link, brand, language switch, then the form in reading order.
    assert names == ["skip", "brand", "lang", "email", "password", "button"], names
    for name, style, width in order:
        assert style != "none" and width != "0px", f"no visible focus on {name}"
    # The skip link moves keyboard focus past the header to the page's content.
    page.keyboard.press("Shift+Tab")
    page.focus("a.skip")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "content"
    context.close()


def test_the_language_switch_is_remembered(site: Site) -> None:
    context = new_context(site, "en")
    page = context.new_page()
    visit(page, site, "/login")
    page.click("#language-form button")
    expect_language(page, "zh")
    expect(page.locator("h1")).to_have_text("登录")
    assert [c["value"] for c in context.cookies() if c["name"] == "lang"] == ["zh_CN"]
    sign_in(page, site.base, site.sealed.world.supplier.email, PASSWORD)
    expect(page.locator("h1")).to_contain_text("的收件箱")
    page.click("#language-form button")
    expect_language(page, "en")
    expect(page.locator("h1")).to_contain_text("Inbox of")
    context.close()

"""Navigator helpers for browser tests: one place that knows the pages' markup."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("Debian's chromium is not installed (scripts/system-deps.sh installs it)")
    return path


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    # Werkzeug's threaded server streams request bodies like gunicorn does in production.
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        app.extensions["exchange"].database.dispose()


@contextmanager
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()


def sign_out(page: Page) -> None:
    page.click("#logout-form button")
    page.wait_for_url("**/login")


def drop_files(page: Page, selector: str, files: dict[str, str]) -> None:
    """Simulate a drag-and-drop of text files onto ``selector``."""
    page.evaluate(
        """([selector, files]) => {
            const dt = new DataTransfer();
            for (const [name, text] of Object.entries(files)) {
                dt.items.add(new File([text], name, {type: 'text/plain'}));
            }
            const target = document.querySelector(selector);
            const init = {dataTransfer: dt, bubbles: true, cancelable: true};
            target.dispatchEvent(new DragEvent('dragover', init));
            target.dispatchEvent(new DragEvent('drop', init));
        }""",
        [selector, files],
    )

"""The pages in English and Simplified Chinese: choice by cookie, else Accept-Language."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.conftest import Stack
from tests.functional.accounts_flow import csrf_token, sign_in
from tests.seed import seed_world

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]


def html_lang(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', page)
    assert match, "no <html lang>"
    return match.group(1)


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "en"),
        ("zh", "zh-CN"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("en-GB,en;q=0.9,zh;q=0.5", "en"),
        ("zh-TW", "en"),
        ("de-DE", "en"),
    ],
)
def test_accept_language_picks_the_page_language(client: FlaskClient, header: str | None, lang: str) -> None:
    headers = {"Accept-Language": header} if header else {}
    page = client.get("/login", headers=headers).get_data(as_text=True)
    assert html_lang(page) == lang
    assert ("<h1>登录</h1>" in page) == (lang == "zh-CN")
    assert ("<h1>Sign in</h1>" in page) == (lang == "en")


def test_the_switch_sets_a_long_lived_cookie_and_needs_csrf(client: FlaskClient) -> None:
    assert client.post("/language", data={"lang": "zh_CN", "next": "/login"}).status_code == 400
    token = csrf_token(client)
    res = client.post("/language", data={"lang": "zh_CN", "next": "/login", "csrf_token": token})
    assert res.status_code == 302 and res.headers["Location"] == "/login"
    cookie = res.headers["Set-Cookie"]
    assert cookie.startswith("lang=zh_CN") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=" in cookie
    # The cookie wins over the header, and the URL carries no language.
    page = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert html_lang(page) == "zh-CN" and "English</button>" in page
    client.post("/language", data={"lang": "en", "next": "/login", "csrf_token": token})
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert html_lang(page) == "en" and "中文</button>" in page


def test_the_switch_is_no_open_redirect_and_ignores_unknown_languages(client: FlaskClient) -> None:
    token = csrf_token(client)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        res = client.post("/language", data={"lang": "en", "next": target, "csrf_token": token})
        assert res.status_code == 302 and res.headers["Location"] == "/"
    res = client.post("/language", data={"lang": "xx", "next": "/login", "csrf_token": token})
    assert "Set-Cookie" not in res.headers or "lang=" not in res.headers["Set-Cookie"]


def test_chinese_pages_flashes_and_times_with_their_zone(stack: Stack, client: FlaskClient) -> None:
    world = seed_world(stack.settings)
    zh = {"Accept-Language": "zh-CN"}
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    res = client.post(
        "/login", data={"email": world.applicant.email, "password": "wrong", "csrf_token": csrf_token(client)}
    )
    assert res.status_code == 401 and "电子邮箱或密码错误。" in res.get_data(as_text=True)
    assert sign_in(client, world.applicant.email).status_code == 302
    token = csrf_token(client, "/cases")
    client.post(
        "/cases",
        data={
            "title": "稀土磁体出口",
            "supplier_org": world.supplier.org,
            "bureau_org": world.bureau.org,
            "csrf_token": token,
        },
    )
    page = client.get("/cases", headers=zh).get_data(as_text=True)
    assert "我的案件" in page and "稀土磁体出口" in page and "草稿" in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", page), "a time without its zone"
    security = client.get("/security", headers=zh).get_data(as_text=True)
    assert "两步验证" in security and "API 令牌" in security
    missing = client.get("/no-such-page", headers=zh).get_data(as_text=True)
    assert "未找到" in missing
    # The API stays English whatever the page language.
    api = client.get("/api/v1/no-such-thing", headers=zh)
    assert api.get_json() == {"error": "not found"}

"""The pages' languages: English (the source text) and Simplified Chinese.

The locale is the user's explicit choice, kept in a long-lived ``lang``
cookie set by a CSRF-protected POST (never in the URL, so links and the
request log stay language-free), else the first supported language of the
Accept-Language header, else English. Catalogues are read from the ``.po``
files at start-up and compiled in memory: no generated ``.mo`` file in the
repository, no build step, and nothing is fetched at run time.

Only the web layer's own text is translated. Messages raised by the domain
and the services, and every JSON API message, stay English.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Blueprint, Flask, current_app, redirect, request, url_for
from flask_babel import Babel, Domain, get_locale
from flask_babel import lazy_gettext as _l

bp = Blueprint("i18n", __name__)

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DEFAULT_LOCALE = "en"
CHINESE = "zh_CN"
SUPPORTED = (DEFAULT_LOCALE, CHINESE)
COOKIE = "lang"
COOKIE_MAX_AGE = 400 * 24 * 3600  # browsers cap cookie lifetimes at 400 days
# Accept-Language tags that mean Simplified Chinese; zh-TW, zh-HK and zh-Hant do not.
_SIMPLIFIED = frozenset({"zh", "zh-cn", "zh-sg", "zh-hans", "zh-hans-cn", "zh-hans-sg"})

# Labels for the codes the pages show; the codes themselves stay English in the API.
LABELS: dict[str, Any] = {
    "applicant": _l("applicant"),
    "supplier": _l("supplier"),
    "bureau": _l("bureau"),
    "draft": _l("draft"),
    "processing": _l("processing"),
    "review": _l("review"),
    "sealing": _l("sealing"),
    "sealed": _l("sealed"),
    "failed": _l("failed"),
}


def load_catalogues(directory: Path = TRANSLATIONS_DIR) -> dict[str, NullTranslations]:
    """Every ``<locale>/LC_MESSAGES/messages.po`` under ``directory``, compiled in memory.

    Keyed by the parsed locale's name, as ``get_locale()`` names it (``zh_CN`` is ``zh_Hans_CN``).
    """
    catalogues: dict[str, NullTranslations] = {DEFAULT_LOCALE: NullTranslations()}
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        locale = po.parent.parent.name
        with po.open("rb") as source:
            catalog = read_po(source, locale=locale)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
        compiled.seek(0)
        catalogues[str(Locale.parse(locale))] = Translations(fp=compiled)
    return catalogues


class CatalogueDomain(Domain):
    """Flask-Babel's domain, served from catalogues loaded once per app."""

    def __init__(self, catalogues: dict[str, NullTranslations]) -> None:
        super().__init__()
        self.catalogues = catalogues

    def get_translations(self) -> NullTranslations:
        locale = get_locale()
        return self.catalogues.get(str(locale), self.catalogues[DEFAULT_LOCALE])


class PortalBabel(Babel):
    def __init__(self, catalogues: dict[str, NullTranslations]) -> None:
        super().__init__()
        self.catalogues = catalogues

    @cached_property
    def domain_instance(self) -> CatalogueDomain:
        return CatalogueDomain(self.catalogues)


def select_locale() -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in SUPPORTED:
        return chosen
    for raw, _quality in request.accept_languages:
        tag = raw.lower().replace("_", "-")
        if tag in _SIMPLIFIED:
            return CHINESE
        if tag == "en" or tag.startswith("en-"):
            return DEFAULT_LOCALE
    return DEFAULT_LOCALE


def html_lang() -> str:
    """The ``<html lang>`` value: a BCP 47 tag, so browsers pick Simplified Chinese fonts."""
    locale = get_locale()
    return "zh-CN" if locale is not None and locale.language == "zh" else "en"


def utc_time(value: datetime | str | None) -> str:
    """A time with its zone, ``2026-12-01 13:05 UTC``; naive times are UTC in this app."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def label(code: str | None) -> str:
    return str(LABELS.get(code or "", code or ""))


def _safe_back(target: str | None) -> str:
    # Same-site paths only: the switch must not become an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.home")


@bp.post("/language")
def choose_language() -> Any:
    """Remember the chosen language; CSRF-protected like every form post."""
    chosen = request.form.get("lang", "")
    response = redirect(_safe_back(request.form.get("next")))
    if chosen in SUPPORTED:
        response.set_cookie(
            COOKIE,
            chosen,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return response


def register(app: Flask) -> None:
    babel = PortalBabel(load_catalogues())
    babel.init_app(app, default_locale=DEFAULT_LOCALE, locale_selector=select_locale)
    # {% trans %} blocks are extracted and looked up with their whitespace collapsed.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.filters["utc"] = utc_time
    app.jinja_env.globals.update(html_lang=html_lang, label=label)
    app.register_blueprint(bp)

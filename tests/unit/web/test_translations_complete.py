"""Every message the pages show has a Simplified Chinese translation.

The messages are extracted from the templates and the web adapters with
Babel's own extractors, as ``pybabel extract`` would, and compared with the
catalogue: a new untranslated string fails here, not in front of a reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from babel.messages.extract import extract
from babel.messages.pofile import read_po

from exchange.web import i18n

WEB = Path(i18n.__file__).parent
PO = WEB / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
# The names the web layer translates with; ``translatable`` only marks (errors.py).
KEYWORDS = {
    "_": None,
    "gettext": None,
    "_l": None,
    "lazy_gettext": None,
    "translatable": None,
    "ngettext": (1, 2),
}


def extracted() -> Iterator[tuple[str, str | tuple[str, ...]]]:
    for template in sorted((WEB / "templates").glob("*.html")):
        with template.open("rb") as source:
            for _line, message, _comments, _context in extract(
                "jinja2.ext:babel_extract",
                source,
                keywords=KEYWORDS,
                options={"trimmed": "true", "newstyle_gettext": "true"},
            ):
                yield template.name, message
    for module in sorted(WEB.glob("*.py")):
        with module.open("rb") as source:
            for _line, message, _comments, _context in extract("python", source, keywords=KEYWORDS):
                yield module.name, message


def test_every_page_message_has_a_chinese_translation() -> None:
    with PO.open("rb") as source:
        catalog = read_po(source, locale="zh_CN")
    missing = []
    for where, message in extracted():
        entry = catalog.get(message if isinstance(message, str) else message[0])
        translated = (
            entry is not None
            and not entry.fuzzy
            and all(entry.string if isinstance(entry.string, tuple) else (entry.string,))
        )
        if not translated:
            missing.append(f"{where}: {message!r}")
    assert not missing, "untranslated (add them to messages.po):\n" + "\n".join(missing)


def test_the_catalogue_loads_and_translates() -> None:
    catalogues = i18n.load_catalogues()
    assert set(catalogues) == {"en", "zh_Hans_CN"}
    assert catalogues["zh_Hans_CN"].gettext("Sign in") == "登录"
    assert catalogues["en"].gettext("Sign in") == "Sign in"

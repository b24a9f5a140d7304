"""Declared terms in Chinese, Japanese and Korean: substrings, free whitespace, optional legal forms."""

from __future__ import annotations

import pytest

from exchange.domain.detection import load_policy, sensitive_values
from exchange.domain.detection.normalise import fold
from exchange.domain.detection.terms import (
    TermMatcher,
    base_name,
    build_terms,
    name_key,
    split_cjk_legal_form,
)
from exchange.domain.redaction.pdf.verify import Needles
from exchange.domain.redaction.text import find_leaks

CUSTOMER = "宁波瀚海磁电有限公司"
MATCHER = TermMatcher(build_terms([CUSTOMER, "株式会社北辰磁材", "주식회사 한빛자석"], ["晶界扩散"]))


def found(text: str) -> list[str]:
    return [text[h.start : h.end] for h in MATCHER.find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("订单客户：宁波瀚海磁电有限公司，交货期五月。", "宁波瀚海磁电有限公司"),
        ("由宁波 瀚海\n磁电有限公司检验", "宁波 瀚海\n磁电有限公司"),
        ("质量证明由宁波瀚海磁电出具。", "宁波瀚海磁电"),
        ("与宁波瀚海磁电集团有限公司签约", "宁波瀚海磁电集团有限公司"),
        ("ＡＢ宁波瀚海磁电有限公司", "宁波瀚海磁电有限公司"),
        ("采用晶界\n扩散工艺", "晶界\n扩散"),
        ("発注者：株式会社北辰磁材、納期", "株式会社北辰磁材"),
        ("証明書は北辰磁材が発行", "北辰磁材"),
        ("北辰磁材（株）の製品", "北辰磁材（株）"),
        ("품질 증명서는 한빛자석이 발행", "한빛자석"),
        ("주문 고객: 주식회사 한빛자석, 납기", "주식회사 한빛자석"),
    ],
)
def test_cjk_term_found(text: str, expected: str) -> None:
    assert expected in found(text)


def test_half_width_katakana_folds_like_full_width() -> None:
    matcher = TermMatcher(build_terms(["カトウ磁材株式会社"], []))
    text = "ｶﾄｳ磁材の見積"
    assert [text[h.start : h.end] for h in matcher.find(text)] == ["ｶﾄｳ磁材"]


@pytest.mark.parametrize("text", ["有限公司", "本公司与供应商", "宁波的磁电公司", "瀚海", "宁波瀚海"])
def test_legal_forms_and_fragments_alone_do_not_match(text: str) -> None:
    assert found(text) == []


def test_legal_form_split_keeps_two_cjk_characters() -> None:
    assert split_cjk_legal_form(CUSTOMER) == ("", "宁波瀚海磁电", "有限公司")
    assert split_cjk_legal_form("宁波瀚海集团股份有限公司")[1] == "宁波瀚海"
    assert split_cjk_legal_form("㈱東芝") == ("(株)", "東芝", "")
    assert base_name("有限公司") is None
    assert base_name("公司") is None
    assert base_name("集团公司") is None
    assert base_name(CUSTOMER) == "宁波瀚海磁电"
    assert name_key("宁波 瀚海\n磁电有限公司") == name_key(CUSTOMER) == "宁波瀚海磁电"


def test_sensitive_values_include_the_cjk_base_name() -> None:
    policy = load_policy(
        "version: 1\nname: t\nterms:\n  customers: ['宁波瀚海磁电有限公司']\n"
        "recipients:\n  supplier:\n    redact: [CUSTOMER]\n"
    )
    values = {fold(v) for v in sensitive_values([], "supplier", policy)}
    assert fold(CUSTOMER) in values
    assert "宁波瀚海磁电" in values


@pytest.mark.parametrize("text", ["质量证明由宁波 瀚海\n磁电出具", "由宁波瀚海磁电出具", "东芝与東芝"])
def test_verifiers_find_cjk_values_with_spaces_inside_and_no_word_boundaries(text: str) -> None:
    values = ["宁波瀚海磁电", "東芝"]
    assert find_leaks(text, values)
    assert Needles(values).search(text)


def test_verifiers_do_not_flag_clean_cjk_text() -> None:
    text = "订单客户：██████，交货期五月。"
    assert find_leaks(text, ["宁波瀚海磁电", "東芝"]) == []
    assert Needles(["宁波瀚海磁电", "東芝"]).search(text) == []

"""Fonts and CMaps: codes to text and widths."""

from __future__ import annotations

import zlib

import pikepdf
import pytest

from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.pdf.fonts import glyph_name_text, load_font, parse_cmap, std14_widths
from exchange.domain.redaction.pdf.limits import PdfLimits, check_stream_size

TOUNICODE = b"""/CIDInit /ProcSet findresource begin 12 dict begin begincmap
1 begincodespacerange <0000> <FFFF> endcodespacerange
2 beginbfchar <0003> <0020> <0010> <00660069> endbfchar
2 beginbfrange <0020> <0022> <004B> <0030> <0031> [<00E4> <00DF>] endbfrange
endcmap end end"""


def test_tounicode_bfchar_bfrange_and_ligature() -> None:
    cmap = parse_cmap(TOUNICODE)
    assert cmap.codespace == [(2, 0, 0xFFFF)]
    assert cmap.lookup_unicode(0x0003) == " "
    assert cmap.lookup_unicode(0x0010) == "fi"
    assert [cmap.lookup_unicode(c) for c in (0x20, 0x21, 0x22)] == ["K", "L", "M"]
    assert [cmap.lookup_unicode(c) for c in (0x30, 0x31)] == ["ä", "ß"]
    assert cmap.lookup_unicode(0x99) is None


def test_cid_ranges_and_variable_codespace() -> None:
    cmap = parse_cmap(
        b"2 begincodespacerange <00> <80> <8140> <FFFF> endcodespacerange "
        b"1 begincidrange <8140> <817F> 633 endcidrange 1 begincidchar <41> 34 endcidchar"
    )
    assert cmap.lookup_cid(0x8141) == 634
    assert cmap.lookup_cid(0x41) == 34
    pdf = pikepdf.new()
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.Type0,
        BaseFont=pikepdf.Name("/X"),
        Encoding=pdf.make_stream(
            b"2 begincodespacerange <00> <80> <8140> <FFFF> endcodespacerange "
            b"1 begincidrange <8140> <817F> 633 endcidrange 1 begincidchar <41> 34 endcidchar"
        ),
        ToUnicode=pdf.make_stream(b"2 beginbfchar <41> <0041> <8141> <3042> endbfchar"),
        DescendantFonts=[
            pikepdf.Dictionary(Subtype=pikepdf.Name.CIDFontType0, W=[34, [500], 634, 634, 1000])
        ],
    )
    info = load_font(font, PdfLimits())
    codes, offsets = info.split(b"\x41\x81\x41\x41")
    assert codes == [0x41, 0x8141, 0x41]
    assert offsets == [0, 1, 3, 4]
    assert info.texts(codes) == ["A", "あ", "A"]
    assert info.widths(codes) == [500, 1000, 500]
    assert info.widths_exact


def test_simple_font_differences_and_standard_widths() -> None:
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.Type1,
        BaseFont=pikepdf.Name.Helvetica,
        Encoding=pikepdf.Dictionary(
            Differences=[1, pikepdf.Name.K, pikepdf.Name("/adieresis"), pikepdf.Name("/g77")]
        ),
    )
    info = load_font(font, PdfLimits())
    assert info.texts([1, 2, 65, 3]) == ["K", "ä", "A", None]
    widths = std14_widths("Helvetica")
    assert widths is not None
    assert info.widths([1, 65]) == [widths[0]["K"], widths[0]["A"]]
    assert info.widths_exact


def test_unknown_predefined_cmap_is_a_problem_not_a_guess() -> None:
    font = pikepdf.Dictionary(
        Subtype=pikepdf.Name.Type0, BaseFont=pikepdf.Name("/X"), Encoding=pikepdf.Name("/90ms-RKSJ-H")
    )
    info = load_font(font, PdfLimits())
    assert info.problem is not None
    assert not info.widths_exact


def test_glyph_names() -> None:
    assert glyph_name_text("uni004B") == "K"
    assert glyph_name_text("f_i") == "fi"
    assert glyph_name_text("g12") is None
    assert glyph_name_text(".notdef") is None


def test_bomb_is_refused_before_inflating() -> None:
    pdf = pikepdf.new()
    data = zlib.compress(b"\0" * (8 * 2**20), 9)
    stream = pdf.make_stream(data, Filter=pikepdf.Name.FlateDecode)
    with pytest.raises(UnsupportedFile, match="decompression bomb"):
        check_stream_size(stream, PdfLimits(max_decoded_stream_bytes=2**20))
    check_stream_size(stream, PdfLimits(max_decoded_stream_bytes=16 * 2**20))

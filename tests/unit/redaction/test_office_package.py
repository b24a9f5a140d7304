"""The OOXML package layer on hand-made ZIPs: limits, names, XML safety, parts and relationships."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.office.package import (
    ENCRYPTED_REASON,
    MACRO_REASON,
    OfficeLimits,
    OfficePackage,
    drop_references,
    ooxml_kind,
    parse_xml,
    rels_name,
    resolve_target,
    sanitise,
    source_of_rels,
)

CT = "application/vnd.openxmlformats-officedocument."
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RT = R + "/"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def _types(main_type: str, extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/word/document.xml" ContentType="{main_type}"/>{extra}</Types>'
    ).encode()


def _rels(*items: str) -> bytes:
    return f'<?xml version="1.0"?><Relationships xmlns="{PKG}">{"".join(items)}</Relationships>'.encode()


MAIN = CT + "wordprocessingml.document.main+xml"
DOC = (
    f'<w:document xmlns:w="{W}" xmlns:r="{R}"><w:body><w:p><w:r><w:t>Hi</w:t></w:r>'
    '<w:hyperlink r:id="rId9"><w:r><w:t>link</w:t></w:r></w:hyperlink></w:p></w:body></w:document>'
).encode()


def make_zip(parts: dict[str, bytes], infos: list[tuple[zipfile.ZipInfo, bytes]] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
        for info, data in infos or []:
            archive.writestr(info, data)
    return buffer.getvalue()


def minimal(main_type: str = MAIN, **extra: bytes) -> dict[str, bytes]:
    return {
        "[Content_Types].xml": _types(main_type),
        "_rels/.rels": _rels(
            f'<Relationship Id="rId1" Type="{RT}officeDocument" Target="word/document.xml"/>'
        ),
        "word/document.xml": DOC,
        **extra,
    }


def test_sniff_reads_the_main_content_type() -> None:
    data = make_zip(minimal())
    assert ooxml_kind(data[:8192], io.BytesIO(data)) == "docx"
    macro = make_zip(minimal("application/vnd.ms-excel.sheet.macroEnabled.main+xml"))
    assert ooxml_kind(macro, io.BytesIO(macro)) == "xlsx"
    plain_zip = make_zip({"a.txt": b"x"})
    assert ooxml_kind(plain_zip, io.BytesIO(plain_zip)) is None
    assert ooxml_kind(b"%PDF-1.7") is None


def test_open_reads_parts_and_kind() -> None:
    package = OfficePackage.open_bytes(make_zip(minimal()))
    assert package.kind == "docx"
    assert package.main_part == "word/document.xml"
    assert package.content_type("word/document.xml") == MAIN


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.xml", "leaves its folder"),
        ("word/../../evil.xml", "leaves its folder"),
        ("/etc/passwd", "absolute path"),
        ("C:/evil.xml", "absolute path"),
        ("word\\evil.xml", "forbidden name"),
        ("WORD/document.xml", "duplicate"),
    ],
)
def test_hostile_entry_names_are_refused(name: str, reason: str) -> None:
    data = make_zip(minimal(), [(zipfile.ZipInfo(name), b"x")])
    with pytest.raises(UnsupportedFile, match=reason):
        OfficePackage.open_bytes(data)


def test_symlink_entries_are_refused() -> None:
    info = zipfile.ZipInfo("word/link")
    info.external_attr = 0o120777 << 16
    with pytest.raises(UnsupportedFile, match="symbolic link"):
        OfficePackage.open_bytes(make_zip(minimal(), [(info, b"/etc/passwd")]))


def test_ratio_and_size_limits_come_before_inflating() -> None:
    bomb = make_zip(minimal(**{"word/big.xml": b" " * (8 * 2**20)}))
    with pytest.raises(UnsupportedFile, match="compression ratio"):
        OfficePackage.open_bytes(bomb)
    with pytest.raises(UnsupportedFile, match="larger than"):
        OfficePackage.open_bytes(bomb, OfficeLimits(max_entry_bytes=2**20, max_entry_ratio=1e9))
    with pytest.raises(UnsupportedFile, match="more than 2 entries"):
        OfficePackage.open_bytes(make_zip(minimal()), OfficeLimits(max_entries=2))


def test_encrypted_and_macro_enabled_files_get_their_reason() -> None:
    with pytest.raises(UnsupportedFile) as caught:
        OfficePackage.open_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    assert caught.value.message == ENCRYPTED_REASON
    with pytest.raises(UnsupportedFile) as caught:
        OfficePackage.open_bytes(make_zip(minimal("application/vnd.ms-word.document.macroEnabled.main+xml")))
    assert caught.value.message == MACRO_REASON


def test_doctype_and_entities_are_refused_in_bounded_time() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b"<x>&b;</x>"
    )
    with pytest.raises(UnsupportedFile, match="DTD"):
        parse_xml(bomb)
    external = b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://example.org/x.dtd"><x/>'
    with pytest.raises(UnsupportedFile, match="DTD"):
        parse_xml(external)
    with pytest.raises(UnsupportedFile, match="malformed"):
        parse_xml(b"<x><y></x>")


def test_relationship_names_resolve() -> None:
    assert rels_name("word/document.xml") == "word/_rels/document.xml.rels"
    assert source_of_rels("word/_rels/document.xml.rels") == "word/document.xml"
    assert source_of_rels("_rels/.rels") == ""
    assert resolve_target("ppt/slides/slide1.xml", "../media/image1.png") == "ppt/media/image1.png"
    assert resolve_target("word/document.xml", "/word/media/a.png") == "word/media/a.png"


def test_remove_part_drops_override_relationships_and_references() -> None:
    parts = minimal(
        **{
            "word/_rels/document.xml.rels": _rels(
                f'<Relationship Id="rId2" Type="{RT}oleObject" Target="embeddings/oleObject1.bin"/>',
                f'<Relationship Id="rId9" Type="{RT}hyperlink" Target="http://x.example/" '
                'TargetMode="External"/>',
            ),
            "word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0",
        }
    )
    parts["[Content_Types].xml"] = _types(
        MAIN, '<Override PartName="/word/embeddings/oleObject1.bin" ContentType="application/x-ole"/>'
    )
    package = OfficePackage.open_bytes(make_zip(parts))
    package.remove_part("word/embeddings/oleObject1.bin")
    assert not package.has("word/embeddings/oleObject1.bin")
    assert b"oleObject1" not in package.read_bytes("[Content_Types].xml")
    assert [r.id for r in package.relationships("word/document.xml")] == ["rId9"]
    package.remove_relationships("word/document.xml", ["rId9"])
    assert drop_references(package) == 1
    document = package.read_bytes("word/document.xml")
    # The hyperlink is unwrapped: its text stays, the link goes.
    assert b"hyperlink" not in document
    assert b"link</w:t>" in document


def test_save_is_deterministic_and_reopens() -> None:
    package = OfficePackage.open_bytes(make_zip(minimal()))
    first, second = package.save(), package.save()
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        names = archive.namelist()
        assert names[0] == "[Content_Types].xml"
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in archive.infolist())
    assert OfficePackage.open_bytes(first).parts == package.parts


def test_sanitise_blanks_properties_and_removes_risky_parts(tmp_path: Path) -> None:
    core = (
        b'<cp:coreProperties '
        b'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">'
        b"<dc:creator>Someone</dc:creator><cp:lastModifiedBy>Someone</cp:lastModifiedBy>"
        b"<dc:title>T</dc:title><dcterms:created>2024-01-01T00:00:00Z</dcterms:created>"
        b"</cp:coreProperties>"
    )
    app = (
        b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        b"<Application>Word</Application><Company>ACME</Company><Manager>Boss</Manager></Properties>"
    )
    parts = minimal(
        **{
            "docProps/core.xml": core,
            "docProps/app.xml": app,
            "docProps/thumbnail.jpeg": b"\xff\xd8\xff",
            "word/vbaProject.bin": b"vba",
            "customXml/item1.xml": b"<x>secret</x>",
            "word/_rels/settings.xml.rels": _rels(
                f'<Relationship Id="rId1" Type="{RT}attachedTemplate" Target="file:///t.dotx" '
                'TargetMode="External"/>'
            ),
            "word/settings.xml": f'<w:settings xmlns:w="{W}" xmlns:r="{R}"><w:attachedTemplate r:id="rId1"/>'
            "</w:settings>".encode(),
        }
    )
    parts["_rels/.rels"] = _rels(
        f'<Relationship Id="rId1" Type="{RT}officeDocument" Target="word/document.xml"/>',
        f'<Relationship Id="rId2" Type="{RT}extended-properties" Target="docProps/app.xml"/>',
        '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
        'metadata/core-properties" Target="docProps/core.xml"/>',
        '<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
        'metadata/thumbnail" Target="docProps/thumbnail.jpeg"/>',
    )
    package = OfficePackage.open_bytes(make_zip(parts))
    counts = sanitise(package)
    assert counts["thumbnail"] == 1
    assert counts["macros"] == 1
    assert counts["custom_xml"] == 1
    assert counts["core_properties"] == 3
    assert counts["app_properties"] == 2
    assert counts["external_attachedTemplate"] == 1
    assert not any(n.startswith("customXml/") or "thumbnail" in n or "vba" in n for n in package.parts)
    assert b"Someone" not in package.read_bytes("docProps/core.xml")
    assert b"created" in package.read_bytes("docProps/core.xml")
    assert b"ACME" not in package.read_bytes("docProps/app.xml")
    assert b"attachedTemplate" not in package.read_bytes("word/settings.xml")

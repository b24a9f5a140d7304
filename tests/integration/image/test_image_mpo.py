"""Phone JPEGs that carry more than one picture: MPO, Ultra HDR, depth maps, trailers.

Phones write a primary JPEG and append further pictures after its EOI,
indexed by an APP2 "MPF" segment (CIPA DC-007 Multi-Picture Format): a
second view (MPO), an Ultra HDR gain map (JPEG/R, announced in XMP with the
``hdrgm`` namespace) or a depth map; Samsung appends a trailer of its own.
Only the primary picture may reach a recipient, redacted like any JPEG.

The inputs come from two independent producers: Pillow's MPO writer, and
bytes built here (exiftool cannot write MPF). :func:`with_mpf` writes:

    SOI, the primary's APP0/APP1 segments (as Pillow wrote them),
    APP2: FFE2, u16 length, "MPF\\0", then a TIFF-style block whose offsets
          count from its own first byte ("base"):
          "MM\\0*", u32 8                       (big-endian header, IFD at 8)
          u16 3                                 (IFD entries)
          B000 UNDEFINED(7) count 4  "0100"     (MPF version)
          B001 LONG(4)      count 1  N          (number of pictures)
          B002 UNDEFINED(7) count 16N -> 50     (MP entry table's offset)
          u32 0                                 (no next IFD)
          N x (u32 attribute, u32 size, u32 offset, u16 0, u16 0):
              primary: 0x20030000 (representative, baseline primary), its
              size with this APP2 included, offset 0; each further picture:
              0x00020002 (multi-frame, disparity), its size, its start - base
    the primary's remaining segments up to its EOI, then each further picture.

exiftool (a separate process) reads the inputs back as MPF with N pictures,
so the layout is checked by a reader that is not ours. Every output is
checked with exiftool -a -G1 -ee, a raw-byte search and Tesseract.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from exchange.domain.detection import load_policy
from exchange.domain.detection.detector import Detector
from exchange.domain.detection.normalise import fold
from exchange.domain.detection.planner import RecipientPlanner
from exchange.domain.detection.policy import Policy
from exchange.domain.filetypes import sniff_media_type
from exchange.domain.redaction.base import EngineLimits, RedactionResult
from exchange.domain.redaction.image.engine import ImageEngine
from exchange.domain.redaction.image.metadata import jpeg_extras, metadata_left
from tests.corpus import images as corpus

ENG = EngineLimits(ocr_languages="eng", ocr_workers=2, ocr_timeout=60)
POLICY = f"""
version: 1
name: phone photos
terms:
  customers: ["{corpus.CUSTOMER}"]
  patterns: {{PART_NUMBER: 'KD-\\d{{4}}-[A-Z]{{2}}'}}
recipients:
  supplier: {{redact: [CUSTOMER, PART_NUMBER, EMAIL_ADDRESS]}}
"""
#: a word only the further pictures show (pixels) or carry (EXIF): it must never reach the output
HIDDEN = "Zebrafinch"
#: the text of a further picture: the customer's name and the hidden word
SECOND_LINES = (f"Second view {HIDDEN}", f"for {corpus.CUSTOMER}", "Quokka warehouse")
RAW_SECRETS = (
    corpus.CUSTOMER,
    "Kestrel",
    HIDDEN,
    HIDDEN.upper(),
    corpus.PART,
    corpus.EMAIL,
    "hdrgm",
    "MPF\x00",
)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(POLICY)


@pytest.fixture(scope="module")
def detector(policy: Policy) -> Detector:
    return Detector(policy)


# -- producers -------------------------------------------------------------------


def further_exif() -> Image.Exif:
    """EXIF of a further picture: the customer's name and the hidden word."""
    exif = Image.Exif()
    exif[0x010F] = "KestrelCam"  # Make
    exif[0x010E] = f"{HIDDEN.upper()} depth of {corpus.CUSTOMER}"  # ImageDescription
    exif[0x013B] = corpus.CUSTOMER  # Artist
    return exif


def jpeg_bytes(image: Image.Image, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=92, **options)
    return buf.getvalue()


def primary_picture(**options: object) -> tuple[bytes, tuple[int, int]]:
    """The primary picture (the label, stored turned, EXIF orientation 6) and its upright size."""
    upright = corpus.label()
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    return jpeg_bytes(stored, exif=corpus.camera_exif(orientation=6), **options), upright.size


def further_picture(mode: str = "RGB") -> bytes:
    return jpeg_bytes(corpus.label(SECOND_LINES, mode=mode), exif=further_exif())


def with_mpf(primary: bytes, further: list[bytes]) -> bytes:
    """``primary`` with an MPF index (layout in the module docstring) and ``further`` appended."""
    insert = 2
    while primary[insert + 1] in (0xE0, 0xE1):  # after APP0 (JFIF) and APP1 (Exif, XMP)
        (length,) = struct.unpack(">H", primary[insert + 2 : insert + 4])
        insert += 2 + length
    count = len(further) + 1
    ifd = struct.pack(">H", 3)
    ifd += struct.pack(">HHI4s", 0xB000, 7, 4, b"0100")
    ifd += struct.pack(">HHII", 0xB001, 4, 1, count)
    table_at = 8 + 2 + 3 * 12 + 4
    ifd += struct.pack(">HHII", 0xB002, 7, 16 * count, table_at) + struct.pack(">I", 0)
    block_size = 8 + len(ifd) + 16 * count
    app2_size = 4 + 4 + block_size  # marker, length, "MPF\0", block
    base = insert + 8  # the block's first byte in the written file
    primary_size = len(primary) + app2_size
    entries = struct.pack(">IIIHH", 0x20030000, primary_size, 0, 0, 0)
    at = primary_size
    for picture in further:
        entries += struct.pack(">IIIHH", 0x00020002, len(picture), at - base, 0, 0)
        at += len(picture)
    block = b"MM\x00*" + struct.pack(">I", 8) + ifd + entries
    app2 = b"\xff\xe2" + struct.pack(">H", 2 + 4 + len(block)) + b"MPF\x00" + block
    assert len(app2) == app2_size
    return primary[:insert] + app2 + primary[insert:] + b"".join(further)


def ultra_hdr_xmp() -> bytes:
    """XMP of an Ultra HDR (JPEG/R) primary: the hdrgm namespace and a container directory."""
    return (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/"'
        b' xmlns:Container="http://ns.google.com/photos/1.0/container/"'
        b' xmlns:Item="http://ns.google.com/photos/1.0/container/item/" hdrgm:Version="1.0">'
        b"<Container:Directory><rdf:Seq>"
        b'<rdf:li rdf:parseType="Resource">'
        b'<Container:Item Item:Semantic="Primary" Item:Mime="image/jpeg"/></rdf:li>'
        b'<rdf:li rdf:parseType="Resource">'
        b'<Container:Item Item:Semantic="GainMap" Item:Mime="image/jpeg"/></rdf:li>'
        b"</rdf:Seq></Container:Directory></rdf:Description></rdf:RDF></x:xmpmeta>"
    )


def pillow_mpo(directory: Path) -> tuple[Path, tuple[int, int]]:
    """An MPO from Pillow's writer: the label, then a second view with the name in pixels and EXIF."""
    upright = corpus.label()
    second = corpus.label(SECOND_LINES)
    # Pillow writes an appended picture with its own encoder options when it has some.
    second.encoderinfo = {"exif": further_exif().tobytes(), "quality": 92}
    path = directory / "pillow.mpo"
    upright.save(path, "MPO", save_all=True, append_images=[second], exif=corpus.camera_exif(), quality=92)
    return path, upright.size


def exiftool_json(path: Path) -> dict[str, object]:
    out = subprocess.run(
        ["exiftool", "-j", "-a", "-G1", "-ee", "-u", str(path)], check=True, capture_output=True, timeout=60
    ).stdout
    return json.loads(out)[0]


def tesseract(path: Path) -> str:
    return subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "eng"], check=True, capture_output=True, timeout=120
    ).stdout.decode()


def run(path: Path, detector: Detector, policy: Policy) -> RedactionResult:
    engine = ImageEngine()
    document = engine.read(path, ENG)
    planner = RecipientPlanner(detector, policy)
    planner.scan([u.text for u in document.units], [(u.page, u.source) for u in document.units])
    return engine.redact(document, planner.plan("supplier"))


def written(result: RedactionResult, directory: Path) -> Path:
    assert result.ok, json.dumps(result.report)
    assert result.data is not None
    out = directory / "out.jpg"
    out.write_bytes(result.data)
    return out


def assert_only_the_redacted_primary(out: Path, upright: tuple[int, int]) -> None:
    """One plain JPEG, upright, primary size, no name in pixels, metadata or bytes."""
    data = out.read_bytes()
    for secret in RAW_SECRETS:
        assert secret.encode() not in data, secret
    assert data.count(b"\xff\xd8\xff") == 1  # one SOI: no embedded picture or thumbnail
    extras = jpeg_extras(data)
    assert extras is not None and (extras.pictures, extras.other_bytes) == (0, 0)
    tags = exiftool_json(out)
    groups = {key.split(":")[0] for key in tags}
    assert tags["File:FileType"] == "JPEG", tags.get("File:FileType")
    assert not {g for g in groups if g.startswith(("MPF", "MPImage", "XMP", "IFD", "ExifIFD", "GPS"))}, groups
    assert (
        "kestrel" not in json.dumps(tags).casefold() and HIDDEN.casefold() not in json.dumps(tags).casefold()
    )
    with Image.open(out) as image:
        assert image.format == "JPEG" and getattr(image, "n_frames", 1) == 1
        assert image.size == upright
    read = fold(tesseract(out))
    for secret in (corpus.CUSTOMER, corpus.PART, corpus.EMAIL, HIDDEN, "Quokka"):
        assert fold(secret) not in read, (secret, read)
    assert "kestrel" not in read
    for word in corpus.KEPT:
        assert fold(word) in read, read


def assert_further_picture_readable(path: Path, tag: str = "MPImage2") -> None:
    """The input's further picture shows the hidden word: the checks on the output can fail."""
    picture = subprocess.run(
        ["exiftool", "-b", f"-{tag}", str(path)], check=True, capture_output=True, timeout=60
    ).stdout
    assert picture.startswith(b"\xff\xd8\xff"), tag
    extracted = path.with_suffix(".further.jpg")
    extracted.write_bytes(picture)
    assert HIDDEN.casefold() in tesseract(extracted).casefold()
    assert HIDDEN.upper().encode() in picture  # its own EXIF


# -- tests ------------------------------------------------------------------------


def test_pillow_mpo_keeps_only_the_redacted_primary(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    src, upright = pillow_mpo(tmp_path)
    with Image.open(src) as mpo:
        assert (mpo.format, mpo.n_frames) == ("MPO", 2)
    assert exiftool_json(src)["MPF0:NumberOfImages"] == 2
    assert_further_picture_readable(src)
    assert sniff_media_type(src.read_bytes()[:8192], "phone.mpo") == "image/jpeg"

    result = run(src, detector, policy)
    assert (result.media_type, result.extension) == ("image/jpeg", ".jpg")
    assert result.report["counts"].get("CUSTOMER") == 1, json.dumps(result.report)
    assert any("1 further picture(s)" in w for w in result.report["warnings"]), result.report["warnings"]
    assert_only_the_redacted_primary(written(result, tmp_path), upright)


def test_hand_built_mpo_primary_orientation_and_two_further_pictures(
    tmp_path: Path, detector, policy
) -> None:  # type: ignore[no-untyped-def]
    primary, upright = primary_picture(icc_profile=corpus.srgb_icc())
    src = tmp_path / "phone.jpg"
    src.write_bytes(with_mpf(primary, [further_picture(), further_picture("L")]))
    tags = exiftool_json(src)
    assert tags["MPF0:NumberOfImages"] == 3 and tags["MPImage3:MPImageType"]
    assert_further_picture_readable(src, "MPImage2")
    assert_further_picture_readable(src, "MPImage3")

    result = run(src, detector, policy)
    notes = result.report["warnings"]
    assert any(n.startswith("2 further picture(s)") for n in notes), notes
    assert not any("bytes of data" in n for n in notes), notes  # the index accounts for every byte
    out = written(result, tmp_path)
    assert_only_the_redacted_primary(out, upright)
    assert any(key.startswith("ICC") for key in exiftool_json(out))


def test_ultra_hdr_gain_map_and_xmp_are_dropped(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    primary, upright = primary_picture(xmp=ultra_hdr_xmp())
    gain_map = further_picture("L")
    src = tmp_path / "ultrahdr.jpg"
    src.write_bytes(with_mpf(primary, [gain_map]))
    tags = exiftool_json(src)
    assert tags["MPF0:NumberOfImages"] == 2
    assert any(key.startswith("XMP-hdrgm") for key in tags), sorted(tags)
    assert_further_picture_readable(src)
    with Image.open(src) as image:  # Pillow leaves Ultra HDR as a plain JPEG: not its MPO path
        assert image.format == "JPEG"

    result = run(src, detector, policy)
    assert any(n.startswith("1 further picture(s)") for n in result.report["warnings"])
    assert_only_the_redacted_primary(written(result, tmp_path), upright)


def test_samsung_style_trailer_and_unindexed_picture_are_dropped(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    primary, upright = primary_picture()
    depth = further_picture("L")
    trailer = (
        b"\x00" * 7 + depth + b"Depth_Map_Info " + corpus.CUSTOMER.encode() + b"SEFH\x6b\x00\x00\x00SEFT"
    )
    src = tmp_path / "samsung.jpg"
    src.write_bytes(primary + trailer)
    assert HIDDEN.upper().encode() in src.read_bytes() and b"Kestrel" in trailer

    result = run(src, detector, policy)
    assert (
        f"{len(trailer)} bytes of data after the end of the JPEG picture were removed"
        in (result.report["warnings"])
    )
    assert_only_the_redacted_primary(written(result, tmp_path), upright)


def test_broken_or_lying_mpf_index_still_gives_the_primary(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    """An index that points past the end, at garbage, or a second picture cut short: the primary only."""
    primary, upright = primary_picture()
    whole = with_mpf(primary, [further_picture()])
    cut = whole[: len(whole) - 500]  # the further picture is truncated
    # Offsets that point past the file and a count far larger than the table (Pillow's MPO reader warns).
    base = whole.index(b"MPF\x00") + 4
    lying = bytearray(whole)
    struct.pack_into(">I", lying, base + 8 + 2 + 12 + 8, 65_000)  # NumberOfImages
    struct.pack_into(">I", lying, base + 50 + 16 + 8, 2**31)  # second entry's offset
    for name, data in (("cut.jpg", cut), ("lying.jpg", bytes(lying))):
        src = tmp_path / name
        src.write_bytes(data)
        result = run(src, detector, policy)
        # An entry that does not hold a whole picture is not counted as one: its bytes are data.
        notes = result.report["warnings"]
        assert not any("further picture" in n for n in notes), notes
        assert any("bytes of data after the end" in n for n in notes), notes
        assert_only_the_redacted_primary(written(result, tmp_path), upright)


def test_primary_without_mpf_or_trailer_has_no_note(tmp_path: Path, detector, policy) -> None:  # type: ignore[no-untyped-def]
    primary, _ = primary_picture()
    src = tmp_path / "plain.jpg"
    src.write_bytes(primary)
    result = run(src, detector, policy)
    assert not any("picture" in n for n in result.report["warnings"]), result.report["warnings"]
    assert jpeg_extras(primary) is not None
    assert (jpeg_extras(primary).pictures, jpeg_extras(primary).other_bytes) == (0, 0)  # type: ignore[union-attr]


def test_verification_refuses_an_output_with_further_pictures_or_trailer(tmp_path: Path) -> None:
    primary, _ = primary_picture()
    plain = jpeg_bytes(corpus.label())
    src, _ = pillow_mpo(tmp_path)
    assert metadata_left(plain) == []
    assert "MPF" in metadata_left(src.read_bytes())
    assert "data after the image" in metadata_left(src.read_bytes())
    assert metadata_left(plain + b"SEFT") == ["data after the image"]
    assert "data after the image" in metadata_left(with_mpf(plain, [primary]))

"""Video sniffing by container structure, and what ffprobe's facts must satisfy."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from exchange.domain.errors import UnsupportedFile
from exchange.domain.redaction.base import EngineLimits
from exchange.domain.redaction.image.engine import sniff_image
from exchange.domain.redaction.video.engine import VideoInfo, container_problems, video_info
from exchange.domain.redaction.video.sniff import ebml_doctype, sniff_video


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00\x00\x00\x08free"


def ebml(doctype: bytes) -> bytes:
    children = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(children)]) + children + b"\x18\x53\x80\x67"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
        (ftyp(b"mp42", b"mp41"), "video/mp4"),
        (ftyp(b"qt  ", b"qt  "), "video/quicktime"),
        (ftyp(b"M4V ", b"M4V ", b"mp42"), "video/x-m4v"),
        (ftyp(b"3gp5", b"3gp5", b"isom"), "video/mp4"),
        (ftyp(b"dash", b"iso6"), "video/mp4"),
        (ftyp(b"XXXX", b"mp42"), "video/mp4"),  # unknown major, video compatible brand
        (ebml(b"webm"), "video/webm"),
        (struct.pack(">I", 120) + b"moov" + b"\x00" * 8, "video/quicktime"),
    ],
)
def test_videos_are_claimed(head: bytes, expected: str) -> None:
    assert sniff_video(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        ftyp(b"heic", b"mif1", b"heic"),
        ftyp(b"mif1", b"mif1", b"heic"),
        ftyp(b"avif", b"avif", b"mif1", b"miaf"),
        ftyp(b"msf1", b"iso8", b"msf1"),  # a HEIF image sequence lists ISO brands too
        ftyp(b"isom", b"iso8", b"mif1"),  # image brand among the compatible ones
        ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"),
        ftyp(b"XXXX", b"YYYY"),
        ebml(b"matroska"),
        b"\x1a\x45\xdf\xa3",  # EBML magic, header cut off
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 20,
        b"%PDF-1.7\n",
        b"",
    ],
)
def test_other_files_are_not_claimed(head: bytes) -> None:
    assert sniff_video(head) is None


def test_heic_is_left_to_the_image_engine() -> None:
    head = ftyp(b"heic", b"mif1", b"heic")
    assert sniff_video(head) is None
    assert sniff_image(head) == "image/heic"


def test_ebml_doctype_reads_past_other_elements() -> None:
    assert ebml_doctype(ebml(b"webm")) == b"webm"
    assert ebml_doctype(b"\x1a\x45\xdf\xa3\x80") is None


def probe_json(**stream: Any) -> dict[str, Any]:
    video = {
        "index": 0,
        "codec_type": "video",
        "codec_name": "h264",
        "width": 640,
        "height": 360,
        "duration": "4.0",
        "avg_frame_rate": "25/1",
        **stream,
    }
    return {"streams": [video], "format": {"duration": "4.0", "tags": {"title": "Visit"}}}


def test_video_info_collects_streams_to_drop_and_metadata() -> None:
    data = probe_json()
    data["streams"] += [
        {"index": 1, "codec_type": "audio", "tags": {"handler_name": "SoundHandler"}},
        {"index": 2, "codec_type": "data"},
        {"index": 3, "codec_type": "video", "codec_name": "png", "disposition": {"attached_pic": 1}},
    ]
    info = video_info(data, EngineLimits())
    assert info.stream_index == 0
    assert info.size == (640, 360)
    assert info.dropped == {"audio": 1, "data": 1, "attachment": 1}
    assert "Visit" in info.metadata
    assert info.frame_duration == pytest.approx(0.04)


def test_cover_picture_alone_is_no_video() -> None:
    data = probe_json(disposition={"attached_pic": 1})
    with pytest.raises(UnsupportedFile, match="no video stream"):
        video_info(data, EngineLimits())


@pytest.mark.parametrize(
    ("stream", "limits", "message"),
    [
        ({"width": 60000, "height": 60000}, EngineLimits(), "too large"),
        ({}, EngineLimits(max_image_pixels=100_000), "too large"),
        ({"duration": "7200"}, EngineLimits(), "too long"),
        ({"width": 0}, EngineLimits(), "no frame size"),
        ({"codec_name": "cinepak"}, EngineLimits(), "codec is not supported"),
        ({"duration": "100"}, EngineLimits(max_pages=50), "OCR samples"),
    ],
)
def test_limits_refuse_before_decoding(stream: dict[str, Any], limits: EngineLimits, message: str) -> None:
    data = probe_json(**stream)
    if "duration" in stream:
        data["format"]["duration"] = stream["duration"]
    with pytest.raises(UnsupportedFile, match=message):
        video_info(data, limits)


def test_rotated_video_is_read_upright() -> None:
    data = probe_json(side_data_list=[{"side_data_type": "Display Matrix", "rotation": -90}])
    assert video_info(data, EngineLimits()).size == (360, 640)


def test_webm_track_duration_tag_is_used() -> None:
    data = probe_json(duration=None, tags={"DURATION": "00:01:02.500000000"})
    data["format"].pop("duration")
    assert video_info(data, EngineLimits()).duration == pytest.approx(62.5)


INFO = VideoInfo(0, "h264", (640, 360), 4.0, 0.04, {})


def written(**changes: Any) -> dict[str, Any]:
    stream = {
        "index": 0,
        "codec_type": "video",
        "codec_name": "h264",
        "width": 640,
        "height": 360,
        "tags": {"language": "und", "handler_name": "VideoHandler", "encoder": "Lavc libx264"},
    }
    fmt = {"duration": "4.0", "tags": {"major_brand": "isom", "compatible_brands": "isomiso2avc1mp41"}}
    data: dict[str, Any] = {"streams": [stream], "format": fmt}
    for key, value in changes.items():
        target, _, name = key.partition("__")
        (stream if target == "stream" else fmt)[name] = value
    return data


def test_clean_output_passes() -> None:
    assert container_problems(written(), "mp4", INFO) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"format__tags": {"location": "+52.52+013.40/"}}, "format tag location"),
        ({"format__tags": {"creation_time": "2024-05-01"}}, "format tag creation_time"),
        ({"stream__tags": {"handler_name": "Kestrel Cam Handler"}}, "stream tag handler_name value"),
        ({"stream__tags": {"Kestrel Dynamics": "x"}}, "stream tag other"),
        ({"format__duration": "2.0"}, "duration"),
        ({"stream__codec_name": "hevc"}, "codec"),
        ({"stream__side_data_list": [{"rotation": 90}]}, "side data"),
    ],
)
def test_output_problems_are_named_without_values(changes: dict[str, Any], problem: str) -> None:
    problems = container_problems(written(**changes), "mp4", INFO)
    assert problem in problems
    assert not any("Kestrel" in p for p in problems)


def test_extra_streams_in_output_are_problems() -> None:
    data = written()
    data["streams"].append({"index": 1, "codec_type": "audio", "codec_name": "aac"})
    assert "streams: video, audio" in container_problems(data, "mp4", INFO)

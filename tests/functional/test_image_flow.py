"""Pixels through the real stack: a photo and a scanned PDF, uploaded, processed, sealed, opened.

The case the issue reported: a scanned order with a customer name, a part
number and a contact person was sealed unredacted. Here the supplier's bundle
is opened and every member is read by tools other than ours: Tesseract as a
separate process on the photo and on pdftoppm's rendering of the scan,
pdftotext, and exiftool for metadata.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import Stack
from tests.corpus import images
from tests.corpus.pdf import producer_scans
from tests.functional.test_api_flow import all_findings, auth, supplier_bundle, wait_for
from tests.seed import World, new_case, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.sqlite_only]

POLICY = f"""
version: 1
name: scans and photos
terms:
  customers: ["{images.CUSTOMER}", "{producer_scans.CUSTOMER} GmbH"]
  patterns: {{PART_NUMBER: 'KD-\\d{{4}}-[A-Z]{{2}}'}}
recipients:
  bureau:
    redact: [CUSTOMER, PART_NUMBER]
  supplier:
    redact: [CUSTOMER, PART_NUMBER, EMAIL_ADDRESS]
"""


def tesseract_text(path: Path) -> str:
    done = subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "eng"], capture_output=True, check=True, timeout=120
    )
    return done.stdout.decode("utf-8", "replace")


def rendered_text(pdf: Path, work: Path) -> str:
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(work / "page")], check=True, timeout=120)
    return "\n".join(tesseract_text(page) for page in sorted(work.glob("page*.png")))


def folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def test_photo_and_scan_are_redacted_in_the_bundle(stack: Stack, client: FlaskClient, tmp_path: Path) -> None:
    world: World = seed_world(stack.settings)
    app_h = auth(world.applicant.token)
    case_id = new_case(client, world, "Scans", POLICY)
    photo = images.jpeg_with_metadata(tmp_path)
    scan = producer_scans.img2pdf_scan(tmp_path, pages=2)
    for path in (photo, scan):
        res = client.post(
            f"/api/v1/cases/{case_id}/files",
            headers=app_h,
            data={"file": (io.BytesIO(path.read_bytes()), path.name)},
            content_type="multipart/form-data",
        )
        assert res.status_code == 201, res.get_json()

    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=app_h).status_code == 202
    review = wait_for(client, case_id, world.applicant.token, "review", stack=stack, timeout=400)
    by_name: dict[str, Any] = {f["name"]: f for f in review["files"]}
    # The applicant sees what OCR read, per file.
    for name in (photo.name, scan.name):
        found = all_findings(client, case_id, world.applicant.token, by_name[name]["id"])
        sources = {f.get("source") for f in found}
        assert "ocr" in sources, (name, found)
    assert client.post(f"/api/v1/cases/{case_id}/approve", headers=app_h).status_code == 202
    wait_for(client, case_id, world.applicant.token, "sealed", stack=stack, timeout=200)

    members = supplier_bundle(client, world)
    manifest = json.loads(members["manifest.json"])
    names = sorted(entry["name"] for entry in manifest["files"])
    assert names == sorted([photo.name, scan.name])

    out_photo = tmp_path / "out-photo.jpg"
    out_photo.write_bytes(members["files/" + photo.name])
    out_scan = tmp_path / "out-scan.pdf"
    out_scan.write_bytes(members["files/" + scan.name])
    (tmp_path / "render").mkdir()

    photo_text = folded(tesseract_text(out_photo))
    scan_text = folded(rendered_text(out_scan, tmp_path / "render"))
    for secret in ("kestrel", images.PART.casefold(), images.EMAIL.casefold()):
        assert secret not in photo_text, secret
    for secret in ("kestrel", producer_scans.PART.casefold(), producer_scans.EMAIL.casefold()):
        assert secret not in scan_text, secret
    assert "turbine" in photo_text and "turbine" in scan_text  # the rest stays readable
    pdf_text = subprocess.run(
        ["pdftotext", str(out_scan), "-"], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    assert "kestrel" not in pdf_text.casefold()

    meta = json.loads(
        subprocess.run(
            ["exiftool", "-j", "-G1", "-a", "-u", str(out_photo)], capture_output=True, check=True, timeout=60
        ).stdout
    )[0]
    groups = {key.split(":", 1)[0] for key in meta if ":" in key}
    assert not groups & {"GPS", "IFD0", "ExifIFD", "XMP-x", "XMP-dc", "IPTC", "IFD1"}, sorted(groups)
    assert "kestrel" not in json.dumps(meta).casefold()
    assert b"Kestrel" not in members["files/" + photo.name]

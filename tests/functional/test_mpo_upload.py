"""A phone photo with a second picture (MPO), through the real stack: uploaded, processed, sealed, opened.

The upload is accepted as a JPEG; the supplier's bundle holds one plain
JPEG, the primary picture redacted, and nothing of the second picture
(pixels or EXIF), read by exiftool, Tesseract and a raw-byte search.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.conftest import Stack
from tests.corpus import images
from tests.functional.test_api_flow import auth, supplier_bundle, wait_for
from tests.integration.image.test_image_mpo import HIDDEN, further_picture, primary_picture, with_mpf
from tests.seed import World, new_case, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.sqlite_only]

POLICY = f"""
version: 1
name: phone photos
terms:
  customers: ["{images.CUSTOMER}"]
  patterns: {{PART_NUMBER: 'KD-\\d{{4}}-[A-Z]{{2}}'}}
recipients:
  bureau:
    redact: [CUSTOMER, PART_NUMBER]
  supplier:
    redact: [CUSTOMER, PART_NUMBER, EMAIL_ADDRESS]
"""


def test_mpo_upload_is_a_jpeg_and_only_its_redacted_primary_is_shared(
    stack: Stack, client: FlaskClient, tmp_path: Path
) -> None:
    world: World = seed_world(stack.settings)
    app_h = auth(world.applicant.token)
    case_id = new_case(client, world, "Phone photo", POLICY)
    primary, upright = primary_picture()
    photo = with_mpf(primary, [further_picture()])
    res = client.post(
        f"/api/v1/cases/{case_id}/files",
        headers=app_h,
        data={"file": (io.BytesIO(photo), "phone.mpo")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 201, res.get_json()
    assert res.get_json()["media_type"] == "image/jpeg"

    assert client.post(f"/api/v1/cases/{case_id}/submit", headers=app_h).status_code == 202
    wait_for(client, case_id, world.applicant.token, "review", stack=stack, timeout=400)
    assert client.post(f"/api/v1/cases/{case_id}/approve", headers=app_h).status_code == 202
    wait_for(client, case_id, world.applicant.token, "sealed", stack=stack, timeout=200)

    members = supplier_bundle(client, world)
    manifest = json.loads(members["manifest.json"])
    (entry,) = manifest["files"]
    assert entry["name"] == "phone.jpg"  # a plain JPEG now, not an MPO
    data = members["files/" + entry["name"]]
    assert data.startswith(b"\xff\xd8\xff") and data.count(b"\xff\xd8\xff") == 1
    for secret in (b"Kestrel", HIDDEN.encode(), HIDDEN.upper().encode(), b"MPF\x00"):
        assert secret not in data, secret
    out = tmp_path / "out.jpg"
    out.write_bytes(data)
    tags = json.loads(
        subprocess.run(
            ["exiftool", "-j", "-a", "-G1", "-ee", "-u", str(out)],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    )[0]
    assert tags["File:FileType"] == "JPEG" and tags["Composite:ImageSize"] == f"{upright[0]}x{upright[1]}"
    assert not any(key.startswith(("MPF", "MPImage", "IFD0", "ExifIFD", "GPS")) for key in tags), sorted(tags)
    read = subprocess.run(
        ["tesseract", str(out), "stdout", "-l", "eng"], capture_output=True, check=True, timeout=120
    ).stdout.decode()
    folded = " ".join(read.split()).casefold()
    assert "kestrel" not in folded and HIDDEN.casefold() not in folded
    assert "turbine" in folded

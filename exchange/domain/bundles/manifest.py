"""Bundle manifests: what a recipient receives, named and hashed.

The manifest is canonical JSON (sorted keys, no whitespace) so that its
signature is reproducible; file names in it are the archive member names,
which :func:`safe_member_name` derives from the recipient's redacted file
name without ever letting one become a path. The caller passes names that
are already redacted for the recipient: nothing here detects secrets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from exchange.domain.audit.chain import canonical_json
from exchange.domain.filetypes import display_name

FORMAT = "secure-exchange-bundle/1"
#: the redaction block stays, so a redacted name reads as redacted, not as "_"
_UNSAFE = re.compile(r"[^\w.\- ()\[\]\u2588]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    name: str
    size: int
    sha256: str
    media_type: str


def safe_member_name(name: str, taken: set[str]) -> str:
    """A flat, printable, unique archive member name derived from a user's file name."""
    base = _UNSAFE.sub("_", display_name(name)).strip(" .") or "file"
    base = base[:120]
    candidate, counter = base, 1
    stem, dot, ext = base.rpartition(".")
    while candidate.casefold() in taken:
        counter += 1
        candidate = f"{stem} ({counter}).{ext}" if dot and stem else f"{base} ({counter})"
    taken.add(candidate.casefold())
    return candidate


def build_manifest(
    *,
    bundle_id: str,
    case_id: str,
    case_title: str,
    recipient: str,
    organisation: str,
    created_at: str,
    policy_hash: str | None,
    entries: Sequence[ManifestEntry],
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "bundle_id": bundle_id,
        "case": {"id": case_id, "title": case_title},
        "recipient": {"role": recipient, "organisation": organisation},
        "created_at": created_at,
        "policy_sha256": policy_hash,
        "files": [
            {"name": e.name, "size": e.size, "sha256": e.sha256, "media_type": e.media_type} for e in entries
        ],
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return canonical_json(manifest)

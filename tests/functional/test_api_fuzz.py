"""Fuzzing /api/v1: no request ever answers with a stack trace.

Every operation of our hand-written OpenAPI document is fuzzed with
schemathesis (schema-conforming and schema-violating requests), as the
applicant and as the supplier, against the real app and database. Hypothesis
then throws shapes the schema does not describe (random file names and bytes,
garbage policies, random headers), and a list of targeted requests covers
what generators rarely reach (invalid UTF-8, 10k-deep JSON, oversized bodies,
lying Content-Length). Everything stays in-process: the Flask test client
never opens a socket.

The contract checked on every answer: status < 500; an API error is JSON
``{"error": "<one line>"}`` without a trace; no answer echoes the caller's
bearer token. The runs are derandomised so CI sees the same requests each time.
"""

from __future__ import annotations

import io
import json
import logging
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from werkzeug.test import TestResponse

from exchange import create_app
from exchange.web.api.openapi import openapi_document
from tests.conftest import Stack
from tests.seed import Account, World, bearer, new_case, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]

API = "/api/v1"
EXAMPLES_PER_OPERATION = 25  # per generation mode and role: 14 operations x 2 modes x 2 roles x 25
EXAMPLES_PER_SHAPE = 40

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,  # the same requests on every run, so a CI failure reproduces locally
    database=None,  # and no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    print_blob=False,
)

POLICY = """version: 1
name: fuzz
terms: {customers: ["Kestrel Dynamics GmbH"]}
recipients:
  bureau: {redact: [CUSTOMER]}
  supplier: {redact: [CUSTOMER]}
"""

OPERATIONS = [
    (method.upper(), path) for path, item in openapi_document()["paths"].items() for method in sorted(item)
]
# Writes only the applicant may make: a supplier must never get a 2xx from these.
APPLICANT_ONLY = {
    ("POST", "/cases"),
    ("PUT", "/cases/{case_id}/policy"),
    ("POST", "/cases/{case_id}/policy/customers"),
    ("POST", "/cases/{case_id}/files"),
    ("DELETE", "/cases/{case_id}/files/{file_id}"),
    ("POST", "/cases/{case_id}/submit"),
    ("POST", "/cases/{case_id}/approve"),
    ("GET", "/cases/{case_id}/access-log"),
}


@dataclass
class Fuzzed:
    app: Flask
    client: FlaskClient
    world: World
    errors: list[str]  # server-side log lines of unexpected exceptions, to explain a 500


@dataclass
class Target(Fuzzed):
    case_id: str
    file_id: str


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(self.format(record))


@pytest.fixture(scope="module")
def fuzzed(stack: Stack) -> Iterator[Fuzzed]:
    """One app and one set of accounts for the module: seeding hashes passwords and costs seconds."""
    app = create_app(stack.settings)
    errors: list[str] = []
    handler = _Collect(errors)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("exchange.web.errors")
    logger.addHandler(handler)
    try:
        yield Fuzzed(app, app.test_client(), seed_world(stack.settings), errors)
    finally:
        logger.removeHandler(handler)
        app.extensions["exchange"].database.dispose()


@pytest.fixture
def target(fuzzed: Fuzzed) -> Target:
    """A fresh draft case with a policy and one file, so fuzzing one operation cannot steer the next."""
    case_id = new_case(fuzzed.client, fuzzed.world, "fuzz target", POLICY)
    res = fuzzed.client.post(
        f"{API}/cases/{case_id}/files",
        headers=bearer(fuzzed.world.applicant),
        data={"file": (io.BytesIO(b"Order for Kestrel Dynamics GmbH\n"), "orders.txt")},
    )
    assert res.status_code == 201, res.get_json()
    fuzzed.errors.clear()
    return Target(fuzzed.app, fuzzed.client, fuzzed.world, fuzzed.errors, case_id, res.get_json()["id"])


def check_answer(
    path: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    token: str,
    server_errors: list[str] | None = None,
) -> None:
    """The no-stack-trace contract for one answer."""
    why = f"{status} on {path}: {body[:300]!r}"
    if server_errors:
        why += "\nserver log:\n" + "\n".join(server_errors[-1:])
    assert status < 500, why
    assert token.encode() not in body, f"the bearer token is echoed: {why}"
    assert all(token not in value for value in headers.values()), f"the bearer token is in a header: {why}"
    assert b"Traceback" not in body and b'File "' not in body, why
    if path.startswith("/api/") and status >= 400:
        content_type = headers.get("Content-Type", "")
        assert content_type.startswith("application/json"), f"{content_type!r}: {why}"
        answer = json.loads(body)
        assert isinstance(answer, dict) and isinstance(answer.get("error"), str), why
        message = answer["error"]
        assert message and "\n" not in message and "\r" not in message, why


def check_response(res: TestResponse, path: str, token: str, target: Target | None = None) -> None:
    check_answer(
        path,
        res.status_code,
        dict(res.headers),
        res.get_data(),
        token=token,
        server_errors=target.errors if target else None,
    )


# --- 1. schemathesis over every documented operation ------------------------------------------------


@pytest.mark.parametrize("role", ["applicant", "supplier"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_answers_without_a_trace(target: Target, method: str, path: str, role: str) -> None:
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", target.app)
    operation = schema[path][method]
    account: Account = getattr(target.world, role)
    if path.startswith("/tokens/"):
        # Revoking may hit the caller's own token: fuzz it with a throwaway account's.
        account = getattr(seed_world(target.app.extensions["exchange"].settings), role)
    headers = bearer(account)
    real_ids = {"case_id": target.case_id, "file_id": target.file_id}

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode), use_real_ids=st.booleans())
        def fuzz(case: Any, use_real_ids: bool) -> None:
            if use_real_ids and case.path_parameters:
                # Half the requests hit the case that exists, so handlers get past the lookup.
                case.path_parameters.update({k: v for k, v in real_ids.items() if k in case.path_parameters})
            target.errors.clear()
            response = case.call(headers=headers)
            flat = {name: ", ".join(values) for name, values in response.headers.items()}
            flat = {("Content-Type" if k.lower() == "content-type" else k): v for k, v in flat.items()}
            check_answer(
                response.request.path_url,
                response.status_code,
                flat,
                response.content,
                token=account.token,
                server_errors=target.errors,
            )
            if role == "supplier" and (method, path) in APPLICANT_ONLY:
                assert response.status_code >= 400, (
                    f"the supplier may {method} {path}: {response.status_code}"
                )

        try:
            fuzz()
        except Unsatisfiable:
            # Operations without parameters or a body have nothing that can violate the schema.
            assert mode is GenerationMode.NEGATIVE


# --- 2. shapes the schema does not describe ------------------------------------------------------------

SHAPE_SETTINGS = settings(FUZZ_SETTINGS, max_examples=EXAMPLES_PER_SHAPE)

# Text with what breaks naive handling: controls, bidi overrides, separators, surrogates-free astral planes.
NASTY_TEXT = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\x00", "\r", "\n", "\u202e", "\u2028", "\ufeff", "/", "\\", ".", "%", "'", '"']),
    ),
    max_size=300,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | NASTY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NASTY_TEXT, inner, max_size=4),
    max_leaves=20,
)


def test_uploads_with_random_names_and_bytes(target: Target) -> None:
    token = target.world.applicant.token

    @SHAPE_SETTINGS
    @given(
        name=NASTY_TEXT,
        content=st.binary(max_size=4096),
        field=st.sampled_from(["file", "file", "File", "column"]),
        route=st.sampled_from(["files", "policy/customers"]),
    )
    def fuzz(name: str, content: bytes, field: str, route: str) -> None:
        target.errors.clear()
        path = f"{API}/cases/{target.case_id}/{route}"
        res = target.client.post(
            path, headers=bearer(target.world.applicant), data={field: (io.BytesIO(content), name)}
        )
        check_response(res, path, token, target)

    fuzz()


def test_policies_of_any_shape(target: Target) -> None:
    token = target.world.applicant.token
    yaml_like = JSON_VALUES.map(lambda v: json.dumps(v, ensure_ascii=False).encode())

    @SHAPE_SETTINGS
    @given(
        body=st.one_of(st.binary(max_size=2048), NASTY_TEXT.map(str.encode), yaml_like),
        content_type=st.sampled_from(
            ["application/yaml", "application/json", "text/plain", "multipart/form-data", ""]
        ),
    )
    def fuzz(body: bytes, content_type: str) -> None:
        target.errors.clear()
        path = f"{API}/cases/{target.case_id}/policy"
        res = target.client.put(
            path, headers=bearer(target.world.applicant), data=body, content_type=content_type or None
        )
        check_response(res, path, token, target)

    fuzz()


def test_random_headers_and_json_bodies_on_every_route(target: Target) -> None:
    token = target.world.applicant.token
    header_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)

    @SHAPE_SETTINGS
    @given(
        operation=st.sampled_from(OPERATIONS),
        body=JSON_VALUES,
        extra=st.dictionaries(
            st.sampled_from(
                ["Accept", "Content-Type", "X-CSRFToken", "Cookie", "Content-Encoding", "X-Forwarded-For"]
            ),
            header_value,
            max_size=4,
        ),
        authorization=st.sampled_from(
            [f"Bearer {token}", f"bearer  {token} ", "Bearer", "Basic Zm9vOmJhcg==", f"Bearer {token}x", ""]
        ),
    )
    def fuzz(operation: tuple[str, str], body: object, extra: dict[str, str], authorization: str) -> None:
        target.errors.clear()
        method, template = operation
        # Every id but the case's is one nobody has; a new route's placeholders are filled alike.
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        path = API + template.format(**dict.fromkeys(names, "0") | {"case_id": target.case_id})
        headers = {"Content-Type": "application/json", **extra, "Authorization": authorization}
        res = target.client.open(path, method=method, data=json.dumps(body), headers=headers)
        check_response(res, path, token, target)

    fuzz()


# --- 3. targeted requests generators rarely reach --------------------------------------------------------


def _multipart_without_name() -> bytes:
    return (
        b"--B\r\nContent-Disposition: form-data\r\n\r\nno name\r\n"
        b'--B\r\nContent-Disposition: form-data; filename="a.txt"\r\n\r\nnameless file\r\n--B--\r\n'
    )


TARGETED: dict[str, tuple[str, str, dict[str, Any]]] = {
    # name: (method, path under /api/v1 with {case}, keyword arguments for client.open)
    "invalid utf-8 json": (
        "POST",
        "/cases",
        {"data": b'{"title": "\xff\xfe"}', "content_type": "application/json"},
    ),
    "json array": ("POST", "/cases", {"data": b"[1, 2, 3]", "content_type": "application/json"}),
    "json 10k levels deep": (
        "POST",
        "/cases",
        {"data": b"[" * 10_000 + b"]" * 10_000, "content_type": "application/json"},
    ),
    "json object 10k levels deep": (
        "POST",
        "/cases",
        {"data": b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "content_type": "application/json"},
    ),
    "huge title": (
        "POST",
        "/cases",
        {"json": {"title": "T" * 1_000_000, "supplier_org": "x", "bureau_org": "y"}},
    ),
    "control chars in names": (
        "POST",
        "/cases",
        {"json": {"title": "a\x00b\u202e\r\nc", "supplier_org": "\x00\x1b[31m", "bureau_org": "\u2028"}},
    ),
    "non-string names": (
        "POST",
        "/cases",
        {"json": {"title": ["x"], "supplier_org": {}, "bureau_org": 1e308}},
    ),
    "policy of 300 KiB": (
        "PUT",
        "/cases/{case}/policy",
        {"data": b"# " + b"x" * (300 * 1024), "content_type": "application/yaml"},
    ),
    "policy 10k levels deep": (
        "PUT",
        "/cases/{case}/policy",
        {"data": b"[" * 10_000 + b"]" * 10_000, "content_type": "application/yaml"},
    ),
    "policy yaml 10k levels deep": (
        "PUT",
        "/cases/{case}/policy",
        {
            "data": b"a:\n" + b"".join(b" " * i + b"a:\n" for i in range(1, 3000)),
            "content_type": "application/yaml",
        },
    ),
    "policy yaml flow 10k levels deep": (
        "PUT",
        "/cases/{case}/policy",
        {"data": b"version: " + b"[" * 10_000 + b"]" * 10_000, "content_type": "application/yaml"},
    ),
    "policy yaml alias bomb": (
        "PUT",
        "/cases/{case}/policy",
        {
            "data": b"a: &a [x, x, x, x, x, x, x, x, x]\n"
            + b"".join(
                b"%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n" % ((c, c) + (c - 1,) * 9)
                for c in range(98, 106)
            ),
            "content_type": "application/yaml",
        },
    ),
    "multipart without boundary": (
        "POST",
        "/cases/{case}/files",
        {
            "data": b"--x\r\nContent-Disposition: form-data; name=file\r\n\r\nhi\r\n--x--\r\n",
            "content_type": "multipart/form-data",
        },
    ),
    "multipart with nameless parts": (
        "POST",
        "/cases/{case}/files",
        {"data": _multipart_without_name(), "content_type": "multipart/form-data; boundary=B"},
    ),
    "content-length far above the body": (
        "PUT",
        "/cases/{case}/policy",
        {
            "data": b"version: 1",
            "content_type": "application/yaml",
            "environ_overrides": {"CONTENT_LENGTH": str(10**12)},
        },
    ),
    "content-length below the body": (
        "PUT",
        "/cases/{case}/policy",
        {
            "data": b"# " + b"x" * (300 * 1024),
            "content_type": "application/yaml",
            "environ_overrides": {"CONTENT_LENGTH": "10"},
        },
    ),
    "content-length not a number": (
        "POST",
        "/cases",
        {"data": b"{}", "content_type": "application/json", "environ_overrides": {"CONTENT_LENGTH": "-1"}},
    ),
    "upload content-length far above the limit": (
        "POST",
        "/cases/{case}/files",
        {
            "data": _multipart_without_name(),
            "content_type": "multipart/form-data; boundary=B",
            "environ_overrides": {"CONTENT_LENGTH": str(10**12)},
        },
    ),
    "path id with NUL and traversal": ("GET", "/cases/%00..%2F..%2Fetc", {}),
    "very long path id": ("GET", "/cases/" + "9" * 20_000, {}),
    "file id of another shape": ("DELETE", "/cases/{case}/files/%E2%80%AE%00", {}),
}


@pytest.mark.parametrize("name", list(TARGETED))
@pytest.mark.parametrize("auth", ["bearer", "anonymous"])
def test_targeted_bad_requests(target: Target, name: str, auth: str) -> None:
    method, template, kwargs = TARGETED[name]
    path = API + template.format(case=target.case_id)
    headers = bearer(target.world.applicant) if auth == "bearer" else {}
    res = target.client.open(path, method=method, headers=headers, **kwargs)
    check_response(res, path, target.world.applicant.token, target)
    assert res.status_code >= 400, f"{name}: {res.status_code} {res.get_data()[:200]!r}"


def test_regression_nameless_multipart_part_without_session_is_a_4xx(fuzzed: Fuzzed) -> None:
    """A nameless multipart part reached Flask-WTF's CSRF lookup as a None key: 500 before the fix."""
    res = fuzzed.client.post(
        f"{API}/cases/{'0' * 8}/files",
        data=_multipart_without_name(),
        content_type="multipart/form-data; boundary=B",
    )
    assert res.status_code == 400 and "CSRF" in res.get_json()["error"]

"""Every route × every principal × the case's objects, against an explicit table.

A route missing from ``TABLE`` fails the test: a new route must be
classified here before it ships. "allow" means authorization let the call
through (any answer but 401/403/404, a sign-in redirect or a 5xx: a 409 for
a sealed case still proves the caller was let in); "deny" means 401, 403,
404 or a redirect to the sign-in page. Every answer, allowed or not, is also
checked for ids of objects the principal may not see.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from exchange import create_app
from tests.conftest import Stack
from tests.functional.sealed_case import SealedCase, extra_account, seal_case
from tests.seed import Account, bearer, seed_world

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]

PRINCIPALS = ("anonymous", "applicant", "other_applicant", "supplier", "other_supplier", "bureau", "admin")
SIGNED_IN = frozenset(PRINCIPALS) - {"anonymous"}
EVERYONE = frozenset(PRINCIPALS)
APPLICANTS = frozenset({"applicant", "other_applicant"})
OWNER = frozenset({"applicant"})
NOBODY: frozenset[str] = frozenset()
#: the sign-in form and sign-out answer everyone alike (401 for wrong credentials is the form's own)
PUBLIC = "public"

#: "METHOD endpoint" -> who is allowed; a dict when it depends on the object (which bundle).
TABLE: dict[str, str | frozenset[str] | dict[str, frozenset[str]]] = {
    "GET static": EVERYONE,
    "GET ops.healthz": EVERYONE,
    "GET ops.readyz": EVERYONE,
    "GET ops.metrics": frozenset({"admin"}),
    "GET auth.login": EVERYONE,
    "POST auth.login": PUBLIC,
    "POST auth.logout": PUBLIC,
    "GET pages.home": SIGNED_IN,
    "GET pages.bundle_list": SIGNED_IN,  # each sees its own organisation's bundles only
    "GET pages.case_list": APPLICANTS,
    "POST pages.case_list": APPLICANTS,
    "GET pages.case_page": OWNER,
    "GET pages.access_log_page": OWNER,
    "GET api_v1.openapi": EVERYONE,
    "GET api_v1.policy_schema_json": EVERYONE,
    "GET api_v1.signing_key": EVERYONE,
    "GET api_v1.bundles": SIGNED_IN,
    "GET api_v1.download": {
        "supplier_bundle": frozenset({"supplier"}),
        "bureau_bundle": frozenset({"bureau"}),
    },
    "POST api_v1.create_case": APPLICANTS,
    "GET api_v1.list_cases": SIGNED_IN,  # a list of the caller's organisation's cases only
    "GET api_v1.get_case": OWNER,
    "GET api_v1.case_access_log": OWNER,
    "GET api_v1.case_findings": OWNER,
    "POST api_v1.approve": OWNER,
    "POST api_v1.submit": OWNER,
    "POST api_v1.upload_file": OWNER,
    "DELETE api_v1.delete_file": OWNER,
    "PUT api_v1.put_policy": OWNER,
    "GET api_v1.get_policy": OWNER,
    "POST api_v1.import_customers": OWNER,
    # the applicant's case page (issue 10): approve summary and confirmation, archive, organisations
    "GET pages.approve_page": OWNER,
    "POST pages.approve_confirmed": OWNER,
    "GET api_v1.approval_summary": OWNER,
    "POST api_v1.archive_case": OWNER,
    "POST api_v1.unarchive_case": OWNER,
    "GET api_v1.organisations": APPLICANTS,
    # the exchange after sealing: a recipient sees a case it received bundles for; the bureau
    # asks and sets the status; request messages are the applicant's and the bureau's only
    "GET api_bureau.inbox": frozenset({"supplier", "other_supplier", "bureau"}),
    "GET inbox_pages.inbox": frozenset({"supplier", "other_supplier", "bureau"}),
    "POST api_bureau.request_information": frozenset({"bureau"}),
    "POST inbox_pages.request_information": frozenset({"bureau"}),
    "GET api_bureau.information_requests": frozenset({"applicant", "bureau"}),
    "PUT api_bureau.bureau_status": frozenset({"bureau"}),
    "POST inbox_pages.set_status": frozenset({"bureau"}),
    "POST api_bureau.supplement": OWNER,
    "POST inbox_pages.start_supplement": OWNER,
    "GET api_bureau.versions": frozenset({"applicant", "supplier", "bureau"}),
    # the review (decisions, boxes, selections, declared terms): the case's applicant only;
    # on the sealed case the owner's changes answer 409, which proves authorization let it in
    "PATCH api_review.decide_finding": OWNER,
    "POST api_review.declare_finding": OWNER,
    "GET api_review.list_boxes": OWNER,
    "POST api_review.add_box": OWNER,
    "DELETE api_review.delete_box": OWNER,
    "POST api_review.select_text": OWNER,
    "GET api_review.list_decisions": OWNER,
    "DELETE api_review.undo_decision": OWNER,
    # the policy editor: the case's applicant only; its helpers (pattern test, a customer
    # list's columns) touch no case, so every signed-in applicant may call them
    "GET policy_pages.policy_page": OWNER,
    "POST policy_pages.save_policy": OWNER,
    "POST api_policy.pattern_test": APPLICANTS,
    "POST api_policy.customer_columns": APPLICANTS,
    # page previews and the review page: the case's applicant only (originals never leave it)
    "GET api_previews.page_png": OWNER,
    "GET api_previews.pages": OWNER,
    "POST api_previews.render": OWNER,
    "GET review_pages.review": OWNER,
    # resumable uploads: starting one is the case owner's; an upload id is only its creator's
    # (the matrix's id belongs to nobody, so everyone is denied)
    "POST api_resumable.create_upload": OWNER,
    "GET api_resumable.upload_status": NOBODY,
    "PATCH api_resumable.append_upload": NOBODY,
    "DELETE api_resumable.delete_upload": NOBODY,
    # sign-in's second step answers only a pending sign-in; the language switch and an
    # invitation (single-use token in the query) answer everyone alike
    "GET auth.second_factor": PUBLIC,
    "POST auth.second_factor": PUBLIC,
    "POST i18n.choose_language": PUBLIC,
    "GET security.accept_invitation": PUBLIC,
    "POST security.accept_invitation": PUBLIC,
    "GET security.security_page": SIGNED_IN,
    "POST security.change_password": SIGNED_IN,
    "POST security.create_token": SIGNED_IN,
    "GET security.totp_enrol": SIGNED_IN,
    "POST security.totp_enrol": SIGNED_IN,
    "GET security_api.api_tokens": SIGNED_IN,
    # organisation administrators only: no principal here is one
    "POST security.create_invitation": NOBODY,
    "POST security.disable_user": NOBODY,
    "POST security.reset_two_factor": NOBODY,
    "POST security_api.api_invite": NOBODY,
    # a token that is not the caller's own (here: none of theirs) cannot be revoked
    "POST security.revoke_token": NOBODY,
    "DELETE security_api.api_revoke_token": NOBODY,
}


@pytest.fixture(scope="module")
def app(stack: Stack) -> Iterator[Flask]:
    app = create_app(stack.settings)
    # CSRF has its own tests (test_web_security); here it would hide the authorization answer.
    app.config["WTF_CSRF_ENABLED"] = False
    yield app
    app.extensions["exchange"].database.dispose()


@pytest.fixture(scope="module")
def sealed(stack: Stack, app: Flask) -> SealedCase:
    return seal_case(app.test_client(), seed_world(stack.settings))


MULTIPART = "multipart/form-data"


def _body(endpoint: str) -> dict[str, Any]:
    if endpoint in ("api_v1.create_case",):
        return {"json": {"title": "matrix", "supplier_org": "-", "bureau_org": "-"}}
    if endpoint == "api_v1.upload_file":
        return {"data": {"file": (io.BytesIO(b"matrix\n"), "m.txt")}, "content_type": MULTIPART}
    if endpoint == "api_v1.import_customers":
        return {
            "data": {"file": (io.BytesIO(b"name\nAcme\n"), "c.csv")},
            "content_type": MULTIPART,
        }
    # invalid on purpose (422 for the caller let in): the matrix must not change the case's state
    if endpoint == "api_bureau.request_information":
        return {"json": {"message": ""}}
    if endpoint == "api_bureau.bureau_status":
        return {"json": {"status": "matrix"}}
    if endpoint == "api_v1.put_policy":
        return {"data": "version: 1\nname: x\n", "content_type": "application/yaml"}
    if endpoint == "pages.case_list":
        return {"data": {"title": "matrix", "supplier_org": "-", "bureau_org": "-"}}
    if endpoint == "auth.login":
        return {"data": {"email": "nobody@example.test", "password": "wrong"}}
    return {}


def _targets(rule_args: set[str], sealed: SealedCase) -> dict[str, dict[str, str]]:
    """Object variants a rule is called with: its URL values, by object name."""
    if "bundle_id" in rule_args:
        return {
            "supplier_bundle": {"bundle_id": sealed.supplier_bundle},
            "bureau_bundle": {"bundle_id": sealed.bureau_bundle},
        }
    values: dict[str, str] = {}
    if "case_id" in rule_args:
        values["case_id"] = sealed.case_id
    if "file_id" in rule_args:
        values["file_id"] = sealed.file_id
    if "token_id" in rule_args:
        values["token_id"] = "987654"  # nobody's token
    if "upload_id" in rule_args:
        values["upload_id"] = "00000000-0000-4000-8000-000000000000"  # nobody's upload
    if "filename" in rule_args:
        values["filename"] = "style.css"
    # The review's objects are looked up after the caller and the case's state are checked,
    # so nobody's ids decide the same as real ones (the review API test covers real ones).
    if "finding_id" in rule_args:
        values["finding_id"] = "1"
    if "box_id" in rule_args:
        values["box_id"] = "00000000-0000-4000-8000-000000000001"
    if "decision_id" in rule_args:
        values["decision_id"] = "987654"
    if "n" in rule_args:
        values["n"] = "1"  # a page number
    name = "file" if "file_id" in rule_args else "case" if "case_id" in rule_args else "none"
    return {name: values}


def _verdict(res: Any) -> str:
    assert res.status_code < 500, res.get_data()[:300]
    if res.status_code in (401, 403, 404):
        return "deny"
    if res.status_code in (301, 302, 303) and "/login" in res.headers.get("Location", ""):
        return "deny"
    # The API refuses a cookie-less, token-less write at its CSRF gate before sign-in is asked for.
    if res.status_code == 400 and b"CSRF" in res.get_data():
        return "deny"
    return "allow"


def _invisible_ids(principal: str, sealed: SealedCase) -> set[str]:
    everything = {sealed.case_id, sealed.file_id, sealed.supplier_bundle, sealed.bureau_bundle}
    visible = {
        "applicant": everything,
        # a recipient's bundle listing names the case it came from
        "supplier": {sealed.case_id, sealed.supplier_bundle},
        "bureau": {sealed.case_id, sealed.bureau_bundle},
    }.get(principal, set())
    return everything - visible


def test_every_route_for_every_principal(stack: Stack, app: Flask, sealed: SealedCase) -> None:
    world = sealed.world
    accounts: dict[str, Account | None] = {
        "anonymous": None,
        "applicant": world.applicant,
        "other_applicant": extra_account(stack.settings, "applicant"),
        "supplier": world.supplier,
        "other_supplier": world.outsider,
        "bureau": world.bureau,
        "admin": extra_account(stack.settings, "admin"),
    }
    client: FlaskClient = app.test_client()
    unclassified: list[str] = []
    wrong: list[str] = []
    requests_made = 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            key = f"{method} {rule.endpoint}"
            if key not in TABLE:
                unclassified.append(f"{key} ({rule.rule})")
                continue
            for target, values in _targets(set(rule.arguments), sealed).items():
                expected = TABLE[key]
                path = rule.build(values, append_unknown=False)[1]  # type: ignore[index]
                if rule.endpoint == "api_v1.case_findings":
                    path += f"?file={sealed.file_id}"
                for principal in PRINCIPALS:
                    account = accounts[principal]
                    headers = bearer(account) if account is not None else {}
                    call: Callable[..., Any] = getattr(client, method.lower())
                    res = call(path, headers=headers, **_body(rule.endpoint))
                    requests_made += 1
                    got = _verdict(res)
                    if expected != PUBLIC:
                        allowed = expected[target] if isinstance(expected, dict) else expected
                        want = "allow" if principal in allowed else "deny"
                        if got != want:
                            wrong.append(
                                f"{key} {target} as {principal}: wanted {want}, got {res.status_code}"
                            )
                    # A redirect's body echoes the caller's own URL; anything else must not name the ids.
                    body = b"" if 300 <= res.status_code < 400 else res.get_data()
                    leaked = {i for i in _invisible_ids(principal, sealed) if i.encode() in body}
                    res.close()
                    if leaked:
                        wrong.append(f"{key} {target} as {principal}: answer names ids it may not see")
    assert not unclassified, "routes missing from the authorization table: " + ", ".join(unclassified)
    assert not wrong, "\n".join(wrong)
    assert requests_made > 150

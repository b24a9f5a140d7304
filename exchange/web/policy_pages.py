"""The policy editor page: a case's policy as a form, with the raw YAML/JSON as an advanced tab.

Adapter only. The form is parsed and converted by
:mod:`exchange.domain.detection.policy_form` and saved through
``services.cases.set_policy`` (and ``import_customers`` for a customer list),
so a form save is one more policy version, validated like an API ``PUT``.
The page answers the case's applicant only (anyone else: 404, a non-applicant
403) and offers editing only while the case's lifecycle allows
``EDIT_POLICY``; otherwise it shows the policy read-only with the reason.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from exchange.domain.detection import load_policy
from exchange.domain.detection.policy_form import (
    DEFAULTS,
    PolicyFields,
    document_from_form,
    error_field,
    error_text,
    fields_from_form,
    form_from_document,
    policy_text,
    thresholds_text,
)
from exchange.domain.errors import Conflict, DomainError, PolicyError
from exchange.domain.lifecycle import Action, require
from exchange.models import Case
from exchange.services import cases
from exchange.services.context import ServiceContext
from exchange.web.api import policy as policy_api
from exchange.web.auth import login_required
from exchange.web.pages import DEFAULT_POLICY
from exchange.web.wiring import service_context

bp = Blueprint("policy_pages", __name__)

#: One line per entity type the detector knows (kept in step with it by a unit test).
ENTITY_HELP: dict[str, Any] = {
    "CUSTOMER": _l("Declared customer names, in any spelling: case, spacing, legal form, diacritics."),
    "TRADE_SECRET": _l("Declared trade-secret phrases: process parameters, grades, formulations."),
    "PERSON": _l("People's names, recognised by language analysis (a guess)."),
    "ORGANIZATION": _l(
        "Organisation names that were not declared, recognised by language analysis; "
        "they are also offered as suggestions."
    ),
    "EMAIL_ADDRESS": _l("Email addresses."),
    "PHONE_NUMBER": _l("Telephone numbers."),
    "LOCATION": _l("Place names: cities, countries, addresses (a guess)."),
    "URL": _l("Web addresses."),
    "IP_ADDRESS": _l("IP addresses (IPv4 and IPv6)."),
    "IBAN_CODE": _l("International bank account numbers (IBAN)."),
    "CREDIT_CARD": _l("Payment card numbers."),
    "US_BANK_NUMBER": _l("US bank account numbers."),
    "CRYPTO": _l("Bitcoin wallet addresses."),
    "DATE_TIME": _l("Dates and times (this hides delivery dates, and every other date too)."),
    "NRP": _l("Nationalities, religious and political groups."),
    "MAC_ADDRESS": _l("Network card (MAC) addresses."),
    "UUID": _l("UUIDs: long random identifiers, as order systems use."),
    "MEDICAL_LICENSE": _l("US medical licence numbers."),
    "UK_NHS": _l("UK National Health Service numbers."),
    "US_DRIVER_LICENSE": _l("US driving licence numbers."),
    "US_ITIN": _l("US individual taxpayer identification numbers."),
    "US_PASSPORT": _l("US passport numbers."),
    "US_SSN": _l("US social security numbers."),
}
PATTERN_HELP = _l("Your named pattern.")

#: The choices per recipient setting, each with what it does.
CHOICES: dict[str, tuple[tuple[str, Any], ...]] = {
    "style": (
        ("box", _l("Solid box")),
        ("label", _l("Label such as [CUSTOMER-3]; the same value gets the same label in every file")),
    ),
    "mode": (
        ("surgical", _l("Remove the text itself; PDF pages stay searchable")),
        ("rasterize", _l("Turn affected PDF pages into images, then box them")),
    ),
    "images": (
        ("redact", _l("Read text in images with OCR and box what is found")),
        ("remove", _l("Replace every image with a solid placeholder")),
        ("keep", _l("Keep images as they are; text in them is not checked")),
    ),
    "videos": (
        ("redact", _l("Box text seen in frames; drop sound and metadata")),
        ("exclude", _l("Leave videos out of this recipient's bundle")),
    ),
}
SETTING_LABELS: dict[str, Any] = {
    "style": _l("Redaction style"),
    "mode": _l("PDF pages"),
    "images": _l("Images"),
    "videos": _l("Videos"),
}
EXAMPLE_POLICY = """version: 1
name: NdFeB magnets, application 41
terms:
  customers: ["Kestrel Dynamics GmbH", "宁波瀚海磁电有限公司"]
  trade_secrets: ["grain boundary diffusion", "N52SH-X"]
  patterns: {PART_NUMBER: 'KD-\\d{4}-[A-Z]{2}'}
recipients:
  bureau:                 # sees the declared end user, not the process
    redact: [TRADE_SECRET, PART_NUMBER]
  supplier:               # sees no customer at all
    redact: [CUSTOMER, TRADE_SECRET, PART_NUMBER, PERSON, EMAIL_ADDRESS, PHONE_NUMBER]
    style: label
    images: redact
"""


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(policy_api.bp)


def _refusal(ctx: ServiceContext, case: Case) -> str | None:
    """Why the policy cannot be edited now (None: it can)."""
    try:
        require(
            Action.EDIT_POLICY,
            case.status,
            "applicant",
            bureau_status=case.bureau_status,
            archived=case.archived_at is not None,
            has_bundles=bool(cases.case_view(ctx, case)["bundles"]),
        )
    except Conflict as exc:
        return exc.message
    return None


def _stored(ctx: ServiceContext, case: Case) -> tuple[str, int | None]:
    """The current policy text and version, or the starting policy of a new case."""
    version = cases.current_policy(ctx, case)
    if version is None:
        return DEFAULT_POLICY, None
    return version.source_text, version.version


def _as_form(text: str) -> tuple[PolicyFields, str | None]:
    """The stored policy as a form; a text today's loader refuses (saved under older rules)
    is shown in the advanced tab with the reason, next to an empty form."""
    try:
        return form_from_document(load_policy(text).document, cases.RECIPIENTS), None
    except PolicyError as exc:
        return form_from_document(load_policy(DEFAULT_POLICY).document, cases.RECIPIENTS), exc.message


def _render(
    case: Case,
    fields: PolicyFields,
    *,
    yaml_text: str,
    version: int | None,
    refusal: str | None,
    errors: dict[str, str] | None = None,
    yaml_error: str | None = None,
    tab: str = "form",
    status: int = 200,
) -> Any:
    types = fields.entity_types()
    patterns = dict(fields.patterns)
    return (
        render_template(
            "policy.html",
            case=case,
            fields=fields,
            types=types,
            type_help={t: ENTITY_HELP.get(t, PATTERN_HELP) for t in types},
            pattern_sources=patterns,
            built_in_help=[(t, ENTITY_HELP[t]) for t in ENTITY_HELP],
            choices=CHOICES,
            setting_labels=SETTING_LABELS,
            defaults=DEFAULTS,
            thresholds_text=thresholds_text,
            yaml_text=yaml_text,
            version=version,
            refusal=refusal,
            errors=errors or {},
            yaml_error=yaml_error,
            tab=tab,
            example=EXAMPLE_POLICY,
        ),
        status,
    )


def _applicant_case(ctx: ServiceContext, case_id: str) -> Case:
    if g.actor.role != "applicant":
        abort(403)
    return cases.get_case(ctx, case_id)


@bp.get("/cases/<case_id>/policy")
@login_required
def policy_page(case_id: str) -> Any:
    ctx = service_context()
    case = _applicant_case(ctx, case_id)
    text, version = _stored(ctx, case)
    fields, problem = _as_form(text)
    return _render(
        case,
        fields,
        yaml_text=text,
        version=version,
        refusal=_refusal(ctx, case),
        yaml_error=problem,
        tab="yaml" if problem else "form",
    )


@bp.post("/cases/<case_id>/policy")
@login_required
def save_policy(case_id: str) -> Any:
    ctx = service_context()
    case = _applicant_case(ctx, case_id)
    text, version = _stored(ctx, case)
    refusal = _refusal(ctx, case)
    if refusal is not None:
        stored, _problem = _as_form(text)
        return _render(case, stored, yaml_text=text, version=version, refusal=refusal, status=409)
    if request.form.get("editor") == "yaml":
        return _save_text(ctx, case, text, version)
    fields, errors = fields_from_form(request.form.to_dict(flat=False), cases.RECIPIENTS)
    shown, problem = _as_form(text)
    saved = None
    # An unchanged form leaves the stored text alone: its comments and layout stay.
    if not errors and (version is None or problem is not None or fields != shown):
        try:
            saved = cases.set_policy(ctx, case.id, policy_text(document_from_form(fields)))
        except PolicyError as exc:
            errors[error_field(exc, fields)] = error_text(exc)
    added = None
    upload = request.files.get("customers_file")
    if not errors and upload is not None and upload.filename:
        try:
            saved, added = cases.import_customers(
                ctx, case.id, upload.stream.read(), upload.filename, request.form.get("customers_column")
            )
        except DomainError as exc:
            errors["customers_file"] = exc.message
    if errors:
        ctx.session.rollback()
        return _render(case, fields, yaml_text=text, version=version, refusal=None, errors=errors, status=422)
    ctx.commit()
    if saved is None:
        flash(_("Nothing changed; the policy stays at version %(version)d.", version=version), "info")
    elif added is not None:
        flash(
            _(
                "%(added)d customer(s) imported; the policy is saved as version %(version)d.",
                added=added,
                version=saved.version,
            ),
            "info",
        )
    else:
        flash(_("The policy is saved as version %(version)d.", version=saved.version), "info")
    return redirect(url_for("policy_pages.policy_page", case_id=case.id))


def _save_text(ctx: ServiceContext, case: Case, stored_text: str, version: int | None) -> Any:
    """The advanced tab: the text as written (comments kept), validated by the same loader."""
    text = request.form.get("policy_text", "")
    try:
        saved = cases.set_policy(ctx, case.id, text)
    except PolicyError as exc:
        ctx.session.rollback()
        fields, _problem = _as_form(stored_text)
        return _render(
            case,
            fields,
            yaml_text=text,
            version=version,
            refusal=None,
            yaml_error=exc.message,
            tab="yaml",
            status=422,
        )
    ctx.commit()
    flash(_("The policy is saved as version %(version)d.", version=saved.version), "info")
    return redirect(url_for("policy_pages.policy_page", case_id=case.id, _anchor="yaml-panel"))

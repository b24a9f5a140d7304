"""Page previews: render a processed file's pages per view, and serve them to the applicant.

Rendering runs on workers (task ``exchange.render_pages``), queued through the
outbox in the commit that settles a file the engine could read (processed, or
failed because a recipient's copy was withheld: its original and the other
copies are what the applicant needs to fix it). Views are "original"
and each recipient; each view's pages are PNG blobs in the (encrypted at
rest) blob store, pointed at by ``page_images`` rows.

Invariants:

* Originals are shown to the applicant organisation's applicants only:
  every read goes through :func:`exchange.services.cases.get_case` (another
  organisation gets NotFound) and a role check (Forbidden).
* Idempotent: a job names (case, file, run). It does nothing when the file's
  run moved on or its pages are already current (a failed rendering is tried
  again). A job that finishes after the file moved on discards what it
  rendered.
* Current means rendered from the outputs the file has now: every view's
  summary row (page 0) records the *generation* of the outputs it was
  rendered from (:func:`generation`), so a run that re-uses a file's outputs
  keeps its pages, and one that replaced them shows "rendering" until the
  new pages are in.
* Replacing is atomic for readers: the new rows replace the old ones in one
  transaction under the case's lock; old blobs are deleted only after that
  commit. Blobs are announced in ``pending_blobs`` before they are written,
  so a job that dies leaves nothing the reconciler cannot find.
* Plaintext (the original and the outputs) exists only in the job's private
  workspace; hostile files are parsed in the sandbox
  (:func:`exchange.domain.redaction.preview.render_views`).

Page 0 of every view is its summary, not an image: ``blob_key`` is empty,
``width`` is the view's page count, ``height`` the pages rendered, and
``marks`` is ``[{"status": "ok"|"none"|"failed", "reason", "generation"}]``.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from exchange.domain.errors import Conflict, DomainError, Forbidden, NotFound
from exchange.domain.redaction.preview import (
    MAX_TERMS,
    PreviewLimits,
    Rendering,
    Term,
    ViewSource,
    previewable,
    render_views,
)
from exchange.models import CaseFile, FindingRow, PageImage, PendingBlob
from exchange.services import outbox
from exchange.services.cases import RECIPIENTS, get_case
from exchange.services.context import ServiceContext
from exchange.services.runs import lock_case
from exchange.services.workspace import private_workspace
from exchange.settings import Settings

log = logging.getLogger(__name__)

RENDER_TASK = "exchange.render_pages"
ORIGINAL = "original"
VIEWS = (ORIGINAL, *RECIPIENTS)
#: the page number of a view's summary row
SUMMARY = 0
#: file states whose outputs are final for its run: "failed" too, when some recipient's copy
#: was withheld (a leak) and the applicant needs the pages to fix it
SETTLED = ("processed", "failed")


def preview_limits(settings: Settings) -> PreviewLimits:
    engine = settings.engine_limits
    return PreviewLimits(
        max_pages=settings.preview_max_pages,
        long_side=settings.preview_long_side,
        seconds=settings.preview_seconds,
        max_image_pixels=engine.max_image_pixels,
        max_input_bytes=engine.max_input_bytes,
        ocr_languages=engine.ocr_languages,
        ocr_timeout=min(engine.ocr_timeout, settings.preview_seconds),
    )


def generation(row: CaseFile) -> str:
    """A digest of the file's current outputs: it changes exactly when a run replaces them."""
    parts = sorted(
        f"{o.recipient}:{o.status}:{o.blob_key or ''}:{o.created_at.isoformat() if o.created_at else ''}"
        for o in row.outputs
    )
    return hashlib.sha256("|".join([row.blob_key, *parts]).encode()).hexdigest()[:32]


# -- rendering (workers) -----------------------------------------------------------


@dataclass
class _Rendered:
    rows: list[PageImage]
    #: blob key -> the PNG to store under it
    pngs: dict[str, bytes]

    @property
    def keys(self) -> list[str]:
        return [r.blob_key for r in self.rows if r.blob_key]


def render_pages(ctx: ServiceContext, case_id: str, file_id: str, run: int) -> str:
    """Render the file's views and store them; "skipped" when outdated or already current."""
    row = ctx.session.get(CaseFile, file_id)
    if (
        row is None
        or row.case_id != case_id
        or row.run != run
        or row.status not in SETTLED
        or not row.outputs
    ):
        return "skipped"
    current = generation(row)
    done = _original_summary(ctx, file_id)
    # A failed rendering is tried again when its job comes again (the store may have been down).
    if done.get("generation") == current and done.get("status") != "failed":
        return "skipped"
    terms = _terms(ctx, file_id)
    absent: dict[str, str] = {}
    outputs: dict[str, tuple[str, str]] = {}
    for output in row.outputs:
        media = str((output.report or {}).get("output_media_type") or row.media_type)
        if output.blob_key and output.status == "ok":
            outputs[output.recipient] = (output.blob_key, media)
        elif output.status == "excluded":
            absent[output.recipient] = "the policy leaves this file out of this recipient's bundle"
        else:
            absent[output.recipient] = "this recipient's copy was withheld"
    original = (row.blob_key, row.media_type)
    ctx.session.commit()  # no transaction stays open while rendering
    renderings = _render(ctx, original, outputs, terms)
    for recipient, reason in absent.items():
        renderings[recipient] = Rendering(reason=reason)
    rendered = _to_rows(ctx, file_id, run, current, renderings)
    ctx.session.add_all([PendingBlob(key=k, created_at=ctx.clock.now()) for k in rendered.keys])
    ctx.session.commit()
    for key, png in rendered.pngs.items():
        # A put that fails leaves its key pending: the reconciler deletes it.
        ctx.blobs.put(key, io.BytesIO(png))
    return _adopt(ctx, case_id, file_id, run, current=current, rendered=rendered)


def mark_failed(ctx: ServiceContext, case_id: str, file_id: str, run: int, reason: str) -> str:
    """Record that rendering failed (so readers stop waiting), unless the file moved on."""
    ctx.session.rollback()
    row = ctx.session.get(CaseFile, file_id)
    if row is None or row.case_id != case_id or row.run != run:
        return "skipped"
    current = generation(row)
    renderings = {view: Rendering(reason=reason) for view in VIEWS}
    rendered = _to_rows(ctx, file_id, run, current, renderings, status="failed")
    return _adopt(ctx, case_id, file_id, run, current=current, rendered=rendered)


def discard_pages(ctx: ServiceContext, file_id: str) -> None:
    """Delete a file's page images (rows now, blobs after the commit): call it when deleting a file."""
    rows = list(ctx.session.scalars(select(PageImage).where(PageImage.file_id == file_id)))
    keys = [r.blob_key for r in rows if r.blob_key]
    ctx.session.execute(delete(PageImage).where(PageImage.file_id == file_id))
    for key in keys:
        ctx.after_commit(lambda k=key: ctx.blobs.delete(k))  # type: ignore[misc]


def _render(
    ctx: ServiceContext,
    original: tuple[str, str],
    outputs: dict[str, tuple[str, str]],
    terms: list[Term],
) -> dict[str, Rendering]:
    with private_workspace() as work:
        sources: list[ViewSource] = []
        for view, (key, media_type) in [(ORIGINAL, original), *sorted(outputs.items())]:
            # Server-chosen names inside the private workspace; the upload's name is never a path.
            path = work / f"source-{view}"
            with path.open("wb") as handle:
                ctx.blobs.get_to(key, handle)
            sources.append(ViewSource(view, path, media_type, tuple(terms) if view == ORIGINAL else ()))
        return render_views(sources, preview_limits(ctx.settings), work, ctx.settings.sandbox_limits)


def _terms(ctx: ServiceContext, file_id: str) -> list[Term]:
    found = ctx.session.execute(
        select(FindingRow.text, FindingRow.entity_type)
        .where(FindingRow.file_id == file_id)
        .group_by(FindingRow.text, FindingRow.entity_type)
        .limit(MAX_TERMS * 4)
    ).all()
    return [Term(str(text), str(kind)) for text, kind in found if text]


def _to_rows(
    ctx: ServiceContext,
    file_id: str,
    run: int,
    current: str,
    renderings: dict[str, Rendering],
    *,
    status: str = "",
) -> _Rendered:
    rows: list[PageImage] = []
    pngs: dict[str, bytes] = {}
    for view in VIEWS:
        rendering = renderings.get(view) or Rendering(reason="nothing to show for this view")
        shown = status or ("ok" if rendering.pages else "none")
        summary = {"status": shown, "reason": rendering.reason, "generation": current}
        rows.append(
            PageImage(
                file_id=file_id,
                view=view,
                page=SUMMARY,
                run=run,
                blob_key="",
                width=rendering.page_count,
                height=len(rendering.pages),
                marks=[summary],
            )
        )
    for view in VIEWS:
        rendering = renderings.get(view) or Rendering()
        for page in rendering.pages:
            key = ctx.blobs.new_key("page")
            pngs[key] = page.png
            rows.append(
                PageImage(
                    file_id=file_id,
                    view=view,
                    page=page.page,
                    run=run,
                    blob_key=key,
                    width=page.width,
                    height=page.height,
                    marks=page.marks if view == ORIGINAL else None,
                )
            )
    return _Rendered(rows, pngs)


def _adopt(
    ctx: ServiceContext, case_id: str, file_id: str, run: int, *, current: str, rendered: _Rendered
) -> str:
    """Under the case's lock: replace the file's page rows, unless the file moved on meanwhile."""
    ctx.session.rollback()
    lock_case(ctx.session, case_id)
    row = ctx.session.get(CaseFile, file_id, populate_existing=True)
    if row is None or row.run != run or generation(row) != current:
        ctx.session.rollback()
        _discard(ctx, rendered.keys)
        return "lost"
    old = list(ctx.session.scalars(select(PageImage).where(PageImage.file_id == file_id)))
    old_keys = [r.blob_key for r in old if r.blob_key]
    ctx.session.execute(delete(PageImage).where(PageImage.file_id == file_id))
    ctx.session.add_all(rendered.rows)
    if rendered.keys:
        ctx.session.execute(delete(PendingBlob).where(PendingBlob.key.in_(rendered.keys)))
    ctx.commit()
    # Only once the replacement is committed: a crash before then keeps the old pages readable.
    for key in old_keys:
        ctx.blobs.delete(key)
    return "rendered"


def _discard(ctx: ServiceContext, keys: list[str]) -> None:
    for key in keys:
        ctx.blobs.delete(key)
    if keys:
        ctx.session.execute(delete(PendingBlob).where(PendingBlob.key.in_(keys)))
        ctx.session.commit()


def _original_summary(ctx: ServiceContext, file_id: str) -> dict[str, Any]:
    summary = ctx.session.scalar(
        select(PageImage).where(
            PageImage.file_id == file_id, PageImage.view == ORIGINAL, PageImage.page == SUMMARY
        )
    )
    return _summary(summary)


def _summary(row: PageImage | None) -> dict[str, Any]:
    marks = row.marks if row is not None else None
    first = marks[0] if isinstance(marks, list) and marks and isinstance(marks[0], dict) else {}
    return dict(first)


# -- reading (web) -------------------------------------------------------------------


def parse_view(view: str | None) -> str:
    """The view asked for ("original" when none), or a 400 with the choices."""
    chosen = view or ORIGINAL
    if chosen not in VIEWS:
        raise DomainError(f"view must be one of {', '.join(VIEWS)}")
    return chosen


def _file(ctx: ServiceContext, case_id: str, file_id: str) -> CaseFile:
    case = get_case(ctx, case_id)  # another organisation: NotFound, before anything else
    if ctx.actor is None or ctx.actor.role != "applicant":
        raise Forbidden("only the case's applicant sees its pages")
    row = ctx.session.get(CaseFile, file_id) if isinstance(file_id, str) and len(file_id) <= 36 else None
    if row is None or row.case_id != case.id:
        raise NotFound("no such file in this case")
    return row


@dataclass(frozen=True, slots=True)
class PageState:
    """Where the file's previews stand: "ready", "rendering", "waiting", "none" or "failed"."""

    status: str
    reason: str = ""
    #: view -> its summary row (current ones only)
    summaries: dict[str, PageImage] | None = None


def _state(ctx: ServiceContext, row: CaseFile) -> PageState:
    if not row.outputs:
        if row.status == "failed":
            return PageState("none", "the file could not be read: " + (row.error or "it failed"))
        return PageState("waiting", "the file is not processed yet")
    reason = previewable(row.media_type)
    if reason:
        return PageState("none", reason)
    summaries = {
        s.view: s
        for s in ctx.session.scalars(
            select(PageImage).where(PageImage.file_id == row.id, PageImage.page == SUMMARY)
        )
    }
    original = summaries.get(ORIGINAL)
    if original is None or _summary(original).get("generation") != generation(row):
        if row.status not in SETTLED:
            return PageState("waiting", "the file is being processed")
        return PageState("rendering", "the pages are being rendered")
    info = _summary(original)
    if info.get("status") == "failed":
        return PageState("failed", str(info.get("reason") or "the pages could not be rendered"), summaries)
    return PageState("ready", "", summaries)


def page_image(ctx: ServiceContext, case_id: str, file_id: str, page: int, view: str | None) -> bytes | None:
    """The PNG of one page of one view; None while it is being rendered.

    NotFound (with the reason) for a page beyond the file or a view without pages.
    """
    row = _file(ctx, case_id, file_id)
    chosen = parse_view(view)
    state = _state(ctx, row)
    if state.status in ("rendering", "waiting"):
        return None
    if state.status != "ready" or state.summaries is None:
        raise NotFound(f"no pages to show: {state.reason}")
    summary = state.summaries.get(chosen)
    info = _summary(summary)
    if summary is None or info.get("status") != "ok":
        raise NotFound(f"no pages to show for the {chosen} view: {info.get('reason') or 'none rendered'}")
    if page < 1 or page > summary.height:
        if page > summary.height and summary.width > summary.height:
            raise NotFound(f"only the first {summary.height} of {summary.width} pages are previewed")
        raise NotFound(f"the {chosen} view has {summary.height} page(s)")
    image = ctx.session.scalar(
        select(PageImage).where(PageImage.file_id == row.id, PageImage.view == chosen, PageImage.page == page)
    )
    if image is None or not image.blob_key:
        return None  # replaced meanwhile: the next poll finds the new pages
    buffer = io.BytesIO()
    try:
        ctx.blobs.get_to(image.blob_key, buffer)
    except FileNotFoundError:
        return None
    return buffer.getvalue()


def page_summary(ctx: ServiceContext, case_id: str, file_id: str) -> dict[str, Any]:
    """``{"status", "reason", "pages", "page_count", "views", "view_status", "marks", "sizes"}``."""
    row = _file(ctx, case_id, file_id)
    state = _state(ctx, row)
    out: dict[str, Any] = {
        "file_id": row.id,
        "status": state.status,
        "reason": state.reason,
        "pages": 0,
        "page_count": row.page_count,
        "views": [],
        "view_status": {},
        "marks": {},
        "sizes": {},
    }
    if state.status != "ready" or state.summaries is None:
        return out
    # A key for image URLs: a page's URL changes when it is rendered anew, so no cache shows an old one.
    out["generation"] = generation(row)[:12]
    for view in VIEWS:
        summary = state.summaries.get(view)
        info = _summary(summary)
        pages = summary.height if summary is not None else 0
        out["view_status"][view] = {
            "status": info.get("status", "none"),
            "reason": info.get("reason", ""),
            "pages": pages,
        }
        if pages:
            out["views"].append(view)
    original = state.summaries.get(ORIGINAL)
    if original is not None:
        out["pages"], out["page_count"] = original.height, original.width
    for image in ctx.session.scalars(
        select(PageImage)
        .where(PageImage.file_id == row.id, PageImage.view == ORIGINAL, PageImage.page > SUMMARY)
        .order_by(PageImage.page)
    ):
        out["marks"][str(image.page)] = list(image.marks or [])
        out["sizes"][str(image.page)] = [image.width, image.height]
    return out


def request_render(ctx: ServiceContext, case_id: str, file_id: str) -> str:
    """Queue the file's rendering unless its pages are current: "queued" or "ready"; the caller commits.

    The review page asks when it is opened; processing queues a rendering by
    itself only where ``preview_eager`` is set. This also recovers a file
    processed before previews existed, or one whose job was lost. The job is
    idempotent, so asking twice costs one skipped job.
    """
    row = _file(ctx, case_id, file_id)
    state = _state(ctx, row)
    if state.status == "waiting":
        raise Conflict("the file is not processed yet; submit the case first")
    if state.status == "none":
        raise Conflict(f"the file has no pages to show: {state.reason}")
    if state.status == "ready":
        return "ready"
    outbox.add(ctx, [(RENDER_TASK, (row.case_id, row.id, row.run))])
    return "queued"

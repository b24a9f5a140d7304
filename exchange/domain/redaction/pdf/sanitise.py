"""The document sanitisation profile ("recipient-safe"), applied to every output.

A PDF can carry text far from its pages. The profile below removes or
redacts every such place; each rule says why. Threat assumption: the
applicant's file may contain, by accident or design, customer names or trade
secrets in any of these, and the recipient will open the file in a viewer
that shows or runs them.

Removed outright (no legitimate need in a shared evidence bundle):

* document information dictionary and XMP metadata (catalog, pages, fonts,
  images, forms): authors, titles, producer trails; inside JPEG images, every
  segment a decoder does not need (comments, EXIF with its thumbnail, XMP,
  ICC, IPTC), the scan data left bit for bit as it was;
* embedded files, ``/AF`` associated files, FileAttachment/Sound/Movie/
  Screen/RichMedia/3D annotations: whole documents can hide there;
* JavaScript (name tree and actions), ``/OpenAction``, ``/AA`` additional
  actions, Launch/Submit/Import/GoToR/GoToE and every other non-navigation
  action: active content and data exfiltration;
* optional-content configuration; content of layers hidden by default is
  dropped from the page (see textmodel), visible layers become plain content;
* image ``/Alternates`` (pictures a printer may draw instead, never read by
  OCR) and ``/OPI`` proxies;
* page thumbnails (``/Thumb``: a picture of the unredacted page), page-piece
  dictionaries and other private application data (``/PieceInfo``,
  ``/LastModified``), article threads, web-capture data, page labels, named
  destinations (resolved into explicit ones first), ``/Perms``, ``/Legal``,
  ``/Collection``, ``/SpiderInfo``, document-level ``/URI`` base;
* every catalog and page key not on a short allow-list (unknown keys are
  where private data hides).

Flattened, then removed: annotations with appearance streams are drawn into
the page (so their text goes through glyph redaction like any page text) and
then deleted with their ``/Contents``; form fields get appearances generated
first and the AcroForm (values, XFA) is removed. Link annotations stay, with
GoTo or URI actions only; a URI that contains redacted text, as written or
percent-decoded (as a browser shows it), loses its action.

Redacted through the detector: bookmark titles, link ``/Contents``, the
structure tree's ``/Alt``, ``/ActualText``, ``/E`` and ``/T`` and the same
keys in marked-content property lists, inline or named in ``/Properties``
(named ones are redacted in place, so every page using them reads the result).
Annotation appearance states other than ``/N`` (``/D`` down, ``/R`` rollover)
are never drawn into the page: flattening uses ``/N`` and the annotations are
then deleted, links keep no ``/AP``, so those streams become unreachable and
are not written.

The output is then written as a full rewrite: one revision, only objects
reachable from the trailer (qpdf drops the rest), a new document ID.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import unquote

import pikepdf

from exchange.domain.redaction.pdf.apply import Finder, redact_string
from exchange.domain.redaction.pdf.limits import stream_filters
from exchange.domain.redaction.pdf.textmodel import OptionalContent

_CATALOG_KEEP = {
    "/Type",
    "/Pages",
    "/PageLayout",
    "/PageMode",
    "/Outlines",
    "/ViewerPreferences",
    "/Lang",
    "/MarkInfo",
    "/StructTreeRoot",
    "/OutputIntents",
    "/Version",
}
_PAGE_KEEP = {
    "/Type",
    "/Parent",
    "/Resources",
    "/MediaBox",
    "/CropBox",
    "/BleedBox",
    "/TrimBox",
    "/ArtBox",
    "/Contents",
    "/Rotate",
    "/Annots",
    "/UserUnit",
    "/StructParents",
    "/Tabs",
    "/Group",
}
_PAGES_NODE_KEEP = {"/Type", "/Parent", "/Kids", "/Count", "/Resources", "/MediaBox", "/CropBox", "/Rotate"}
_DROP_ANNOTS = {
    "/Popup",
    "/FileAttachment",
    "/Sound",
    "/Movie",
    "/Screen",
    "/RichMedia",
    "/3D",
    "/Projection",
}
_LINK_KEEP = {
    "/Type",
    "/Subtype",
    "/Rect",
    "/Border",
    "/BS",
    "/C",
    "/H",
    "/QuadPoints",
    "/F",
    "/StructParent",
}
#: /Alternates (other images a printer may draw instead) and /OPI (proxies for print
#: servers) name pixels and files no check reads; viewers draw the image itself.
_PRIVATE_KEYS = ("/Metadata", "/PieceInfo", "/LastModified", "/AF", "/AA", "/Alternates", "/OPI")
#: JPEG markers kept: SOF*, DHT, DAC, DQT, DRI, SOS, RST*, and APP0 (JFIF, without its
#: thumbnail) and APP14 (Adobe colour transform), which decoders need for colour.
_JPEG_APP0, _JPEG_APP14, _JPEG_COM = 0xE0, 0xEE, 0xFE
_STRUCT_TEXT_KEYS = ("/Alt", "/ActualText", "/E", "/T")


def uri_readings(text: str) -> list[str]:
    """``text`` and, when they differ, its percent-decoded forms (``+`` read as a space too)."""
    out = [text]
    decoded = unquote(text, encoding="utf-8", errors="replace")
    for form in (decoded, decoded.replace("+", " ")):
        if form not in out:
            out.append(form)
    return out


class NamedDestinations:
    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self.tree: pikepdf.NameTree | None = None
        self.old: Any = pdf.Root.get("/Dests")
        names = pdf.Root.get("/Names")
        if isinstance(names, pikepdf.Dictionary) and isinstance(names.get("/Dests"), pikepdf.Dictionary):
            try:
                self.tree = pikepdf.NameTree(names.Dests)
            except (pikepdf.PdfError, ValueError):
                self.tree = None

    def resolve(self, dest: Any) -> Any:
        """An explicit destination array for ``dest``, or None when it cannot be resolved."""
        if isinstance(dest, pikepdf.Array):
            return dest
        key = None
        if isinstance(dest, pikepdf.String):
            key = str(dest)
            if self.tree is not None:
                try:
                    value = self.tree.get(key)
                except (pikepdf.PdfError, KeyError, ValueError):
                    value = None
                if value is not None:
                    return self._unwrap(value)
        elif isinstance(dest, pikepdf.Name) and isinstance(self.old, pikepdf.Dictionary):
            value = self.old.get(str(dest))
            if value is not None:
                return self._unwrap(value)
        return None

    @staticmethod
    def _unwrap(value: Any) -> Any:
        if isinstance(value, pikepdf.Dictionary):
            value = value.get("/D")
        return value if isinstance(value, pikepdf.Array) else None


def _safe_action(action: Any, dests: NamedDestinations, find: Finder, stats: Counter[str]) -> Any:
    """A sanitised copy of a navigation action, or None to drop it."""
    if not isinstance(action, pikepdf.Dictionary):
        return None
    kind = action.get("/S")
    if kind == "/GoTo":
        dest = dests.resolve(action.get("/D"))
        if dest is None:
            stats["actions_removed"] += 1
            return None
        return pikepdf.Dictionary(S=pikepdf.Name.GoTo, D=dest)
    if kind == "/URI":
        uri = action.get("/URI")
        if not isinstance(uri, pikepdf.String):
            return None
        text = bytes(uri).decode("latin-1")
        new, counts = redact_string(text, find)
        if not counts:
            # Viewers and browsers show a URI decoded: "Kestrel%20Dynamics" and "Kestrel+Dynamics"
            # (a query) read as the name, so the decoded forms are asked about too.
            for decoded in uri_readings(text)[1:]:
                counts.update(redact_string(decoded, find)[1])
        if counts:
            stats["uri_actions_removed_for_redaction"] += 1
            return None
        return pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String(new))
    stats["actions_removed"] += 1
    return None


def _annots(page: pikepdf.Page) -> list[Any]:
    annots = page.obj.get("/Annots")
    return list(annots) if isinstance(annots, pikepdf.Array) else []


def presanitise(pdf: pikepdf.Pdf, stats: Counter[str]) -> None:
    """Remove active content and flatten annotations before pages are read."""
    root = pdf.Root
    for key in ("/OpenAction", "/AA"):
        if key in root:
            del root[key]
            stats["document_actions_removed"] += 1
    oc = OptionalContent(pdf)
    # Remove annotations that must not be drawn or kept; set links aside so that
    # flattening does not turn them into dead pictures.
    links_by_page: list[list[Any]] = []
    for page in pdf.pages:
        keep: list[Any] = []
        links: list[Any] = []
        for annot in _annots(page):
            if not isinstance(annot, pikepdf.Dictionary):
                continue
            subtype = annot.get("/Subtype")
            if subtype in _DROP_ANNOTS or oc.is_hidden(annot.get("/OC")):
                stats["annotations_removed"] += 1
                continue
            if subtype == "/Link":
                links.append(annot)
                continue
            for key in ("/AA", "/A"):
                if key in annot:
                    del annot[key]
            keep.append(annot)
        links_by_page.append(links)
        if keep:
            page.obj.Annots = pikepdf.Array(keep)
        elif "/Annots" in page.obj:
            del page.obj["/Annots"]
    acro = root.get("/AcroForm")
    had_form = isinstance(acro, pikepdf.Dictionary)
    if isinstance(acro, pikepdf.Dictionary):
        if "/XFA" in acro:
            del acro["/XFA"]
            stats["xfa_removed"] += 1
        try:
            pdf.generate_appearance_streams()
        except pikepdf.PdfError:
            stats["form_appearance_generation_failed"] += 1
    before = sum(len(_annots(p)) for p in pdf.pages)
    if before:
        try:
            pdf.flatten_annotations("all")
        except pikepdf.PdfError:
            stats["annotation_flattening_failed"] += 1
        after = sum(len(_annots(p)) for p in pdf.pages)
        stats["annotations_flattened"] += before - after
        stats["annotations_removed"] += after
    if "/AcroForm" in root:
        del root["/AcroForm"]
    if had_form:
        stats["form_fields_flattened_and_removed"] += 1
    for page, links in zip(pdf.pages, links_by_page, strict=True):
        if links:
            page.obj.Annots = pikepdf.Array(links)
        elif "/Annots" in page.obj:
            del page.obj["/Annots"]


def _sanitise_outlines(
    pdf: pikepdf.Pdf, find: Finder, dests: NamedDestinations, stats: Counter[str], limit: int
) -> None:
    outlines = pdf.Root.get("/Outlines")
    if not isinstance(outlines, pikepdf.Dictionary):
        return
    seen: set[tuple[int, int]] = set()
    todo = [outlines.get("/First")]
    visited = 0
    while todo:
        item = todo.pop()
        while isinstance(item, pikepdf.Dictionary):
            key = item.objgen
            if key in seen or visited > limit:
                item = None
                break
            seen.add(key)
            visited += 1
            title = item.get("/Title")
            if isinstance(title, pikepdf.String):
                new, counts = redact_string(str(title), find)
                if counts:
                    item.Title = pikepdf.String(new)
                    stats["bookmark_titles_redacted"] += 1
                    stats.update({f"bookmark:{k}": v for k, v in counts.items()})
            if "/A" in item:
                action = _safe_action(item.get("/A"), dests, find, stats)
                if action is None:
                    del item["/A"]
                else:
                    item.A = action
            if "/Dest" in item:
                dest = dests.resolve(item.get("/Dest"))
                if dest is None:
                    del item["/Dest"]
                else:
                    item.Dest = dest
            for extra in ("/SE", "/AA"):
                if extra in item:
                    del item[extra]
            if "/First" in item:
                todo.append(item.get("/First"))
            item = item.get("/Next")


def _sanitise_links(pdf: pikepdf.Pdf, find: Finder, dests: NamedDestinations, stats: Counter[str]) -> None:
    for page in pdf.pages:
        for annot in _annots(page):
            if not isinstance(annot, pikepdf.Dictionary):
                continue
            action = _safe_action(annot.get("/A"), dests, find, stats) if "/A" in annot else None
            dest = dests.resolve(annot.get("/Dest")) if "/Dest" in annot else None
            for key in list(annot.keys()):
                if key not in _LINK_KEEP:
                    del annot[key]
            if action is not None:
                annot.A = action
            if dest is not None:
                annot.Dest = dest
            stats["links_kept"] += 1


def _sanitise_struct_tree(pdf: pikepdf.Pdf, find: Finder, stats: Counter[str], limit: int) -> None:
    root = pdf.Root.get("/StructTreeRoot")
    if not isinstance(root, pikepdf.Dictionary):
        return
    seen: set[tuple[int, int]] = set()
    todo: list[Any] = [root.get("/K")]
    visited = 0
    while todo and visited < limit:
        node = todo.pop()
        visited += 1
        if isinstance(node, pikepdf.Array):
            todo.extend(node)
            continue
        if not isinstance(node, pikepdf.Dictionary):
            continue
        if node.is_indirect:
            if node.objgen in seen:
                continue
            seen.add(node.objgen)
        for key in _STRUCT_TEXT_KEYS:
            value = node.get(key)
            if isinstance(value, pikepdf.String):
                new, counts = redact_string(str(value), find)
                if counts:
                    node[key] = pikepdf.String(new)
                    stats["structure_text_redacted"] += 1
        kids = node.get("/K")
        if kids is not None and node.get("/Type") != "/MCR":
            todo.append(kids)
    if visited >= limit:
        # A structure tree this large is not worth the risk of a partial walk: drop it.
        del pdf.Root["/StructTreeRoot"]
        stats["structure_tree_removed_too_large"] += 1
    for key in ("/IDTree",):
        if key in root:
            del root[key]


def postsanitise(pdf: pikepdf.Pdf, find: Finder, stats: Counter[str], nesting_limit: int) -> None:
    """Everything outside page content, after pages were redacted."""
    dests = NamedDestinations(pdf)
    _sanitise_outlines(pdf, find, dests, stats, 100_000)
    _sanitise_links(pdf, find, dests, stats)
    _sanitise_struct_tree(pdf, find, stats, 500_000)
    root = pdf.Root
    if "/OCProperties" in root:
        stats["optional_content_removed"] += 1
    for key in list(root.keys()):
        if key not in _CATALOG_KEEP:
            del root[key]
            stats[f"catalog_removed:{key[1:]}"] += 1
    if "/Info" in pdf.trailer:
        del pdf.trailer["/Info"]
        stats["document_info_removed"] += 1
    for page in pdf.pages:
        obj = page.obj
        for key in list(obj.keys()):
            if key not in _PAGE_KEEP:
                del obj[key]
                stats[f"page_removed:{key[1:]}"] += 1
        node: Any = obj.get("/Parent")
        depth = 0
        while isinstance(node, pikepdf.Dictionary) and depth < nesting_limit:
            for key in list(node.keys()):
                if key not in _PAGES_NODE_KEEP:
                    del node[key]
            node = node.get("/Parent")
            depth += 1
    # Private data can sit on any dictionary (fonts, images, forms): sweep all objects.
    for item in pdf.objects:
        if isinstance(item, pikepdf.Dictionary | pikepdf.Stream):
            for key in _PRIVATE_KEYS:
                if key in item:
                    if key == "/Metadata":
                        stats["xmp_metadata_removed"] += 1
                    del item[key]
            if item.get("/Type") == "/OCG" and "/Name" in item:
                item.Name = pikepdf.String("layer")
        if isinstance(item, pikepdf.Stream):
            _strip_jpeg_stream(item, stats)


#: text filters that may wrap a JPEG (reportlab writes ASCII85) and cannot expand it, so
#: unwrapping needs no size check; a JPEG inside Flate is left to verification
_WRAPPERS = {"/ASCII85Decode", "/ASCIIHexDecode", "/A85", "/AHx"}


def _strip_jpeg_stream(stream: pikepdf.Stream, stats: Counter[str]) -> None:
    filters = stream_filters(stream)
    if not filters or filters[-1] != "/DCTDecode" or not set(filters[:-1]) <= _WRAPPERS:
        return
    if "/DecodeParms" in stream and len(filters) > 1:
        return  # predictors on a wrapped JPEG: leave it to verification
    original = stream.get("/Filter")
    try:
        if len(filters) > 1:
            # qpdf refuses to half-decode a chain it cannot finish: unwrap the JPEG alone.
            stream.Filter = pikepdf.Array([pikepdf.Name(f) for f in filters[:-1]])
            jpeg = stream.read_bytes()
        else:
            jpeg = stream.read_raw_bytes()
    except pikepdf.PdfError:
        stream.Filter = original
        return
    stripped = strip_jpeg_metadata(jpeg)
    if stripped is None or (stripped == jpeg and len(filters) == 1):
        stream.Filter = original
        return
    stream.write(stripped, filter=pikepdf.Name.DCTDecode)
    stats["jpeg_metadata_removed"] += 1


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at ``pos`` ends: the next marker that is not RSTn."""
    end = len(data)
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= end:
            return end
        code = data[pos + 1]
        if code == 0x00 or 0xD0 <= code <= 0xD7:
            pos += 2
        elif code == 0xFF:
            pos += 1  # fill byte; the next one may start the marker
        else:
            return pos


def strip_jpeg_metadata(data: bytes) -> bytes | None:
    """``data`` without its comments, EXIF, XMP, ICC, IPTC and thumbnails; None if unparsable.

    A photo's JPEG segments carry text and pictures of their own (captions,
    owner names, GPS, an EXIF thumbnail of the whole unredacted photo) that
    no viewer shows and no pixel check reads. Only the segments a decoder
    needs are kept (see ``_JPEG_APP0``); scan data is copied unchanged, so
    the pixels are bit for bit the same. Markers between scans (progressive
    files) are filtered the same way.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    out = bytearray(b"\xff\xd8")
    pos, end = 2, len(data)
    while pos + 1 < end:
        if data[pos] != 0xFF:
            return None
        code = data[pos + 1]
        if code == 0xFF:
            pos += 1  # fill byte
            continue
        if code == 0xD9:
            out += b"\xff\xd9"
            return bytes(out)
        if code == 0x01 or 0xD0 <= code <= 0xD7:
            out += data[pos : pos + 2]
            pos += 2
            continue
        if pos + 4 > end:
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > end:
            return None
        segment = data[pos : pos + 2 + length]
        pos += 2 + length
        if code == _JPEG_APP0:
            if segment[4:9] == b"JFIF\x00" and length >= 14:
                # Version, units and density only: no thumbnail.
                out += b"\xff\xe0\x00\x10" + segment[4:16] + b"\x00\x00"
        elif code == _JPEG_COM or (0xE1 <= code <= 0xEF and code != _JPEG_APP14):
            pass
        else:
            out += segment
        if code == 0xDA:
            scan_end = _scan_end(data, pos)
            out += data[pos:scan_end]
            pos = scan_end
    # No end-of-image marker: keep what was there (decoders accept a missing EOI).
    out += data[pos:]
    return bytes(out)


def redact_marked_content(model_contexts: Any, find: Finder, stats: Counter[str]) -> int:
    """Redact /ActualText, /Alt and /E in marked-content property lists, inline or named."""
    changed = 0
    for ctx in model_contexts:
        for idx in ctx.marked_text:
            ins = ctx.instructions[idx]
            tag, props = ins.operands[0], ins.operands[1]
            new_props = pikepdf.Dictionary(dict(props.items()))
            hit = False
            for key in ("/ActualText", "/Alt", "/E"):
                value = new_props.get(key)
                if isinstance(value, pikepdf.String):
                    new, counts = redact_string(str(value), find)
                    if counts:
                        new_props[key] = pikepdf.String(new)
                        hit = True
            if hit:
                ctx.replace[idx] = [
                    pikepdf.ContentStreamInstruction([tag, new_props], pikepdf.Operator("BDC"))
                ]
                changed += 1
        for props in ctx.marked_named:
            # Redacted in place: every page using this property list must read the redacted text.
            for key in ("/ActualText", "/Alt", "/E"):
                value = props.get(key)
                if isinstance(value, pikepdf.String):
                    new, counts = redact_string(str(value), find)
                    if counts:
                        props[key] = pikepdf.String(new)
                        changed += 1
    if changed:
        stats["marked_content_text_redacted"] += changed
    return changed

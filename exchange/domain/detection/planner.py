"""The recipient planner: findings + policy + recipient -> what an engine removes.

One place answers "what must recipient R not see?" for the worker, both CLI
commands and the names a recipient sees (titles, file names). Engines receive
a :class:`RecipientPlan` and never read the policy themselves.

Invariants:

* A recipient the portal knows (``DEFAULT_RECIPIENTS``) that the policy does
  not name gets the strictest view: every finding is redacted and every
  declared term is a sensitive value. A name the portal does not know is an
  error (:class:`PolicyError`), never silently the strictest or the loosest.
* ``find`` is memoised per text, so one text is scanned once per document
  whoever asks; every value a recipient must not see that ``find`` meets is
  appended to the plan's ``sensitive_values`` before ``find`` returns, so a
  verifier that reads the list afterwards checks them too.
* The memo is compact, because a large workbook has hundreds of thousands of
  distinct texts and almost none of them holds a finding: a text with
  findings keeps them and where it was read; a text without keeps only its
  membership in a set (no findings list, no places, no plan answer), which
  is all it takes to answer "nothing here" again without scanning.
* :meth:`RecipientPlanner.scan` hands the detector bounded batches, so the
  detector's own working memory (NLP documents) does not grow with the file.
* Findings are recorded with where they were read (page, source) so the
  applicant's review sees text found in OCR and in metadata as well.
* The applicant's review (:mod:`.review`) is applied here and nowhere else:
  a kept value is neither redacted nor checked by the verifiers (they search
  substrings, so a value inside a kept one is not checked either); a value
  to redact is removed wherever ``find`` meets it and is checked; manual
  boxes travel on the plan to the engines, which paint or withhold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from exchange.domain.detection.findings import Decision, Finding, Redaction, merge_redactions
from exchange.domain.detection.labels import Labeller
from exchange.domain.detection.normalise import fold
from exchange.domain.detection.policy import DEFAULT_RECIPIENTS, Policy, RecipientPolicy
from exchange.domain.detection.review import MANUAL, FileReview, ManualBox, RecipientReview
from exchange.domain.detection.terms import TermMatcher, build_terms
from exchange.domain.errors import PolicyError

if TYPE_CHECKING:
    from exchange.domain.detection.detector import Detector

ImagesRule = Literal["redact", "remove", "keep"]
VideosRule = Literal["redact", "exclude"]


@dataclass(slots=True)
class RecipientPlan:
    """Everything an engine needs to redact one document for one recipient."""

    recipient: str
    #: text -> spans to remove in it (memoised; see module docstring)
    find: Callable[[str], Sequence[Redaction]]
    #: values that must not appear in the output; grows while ``find`` runs
    sensitive_values: list[str]
    #: PDF pages: "surgical" removes text objects, "rasterize" burns pages in
    mode: str = "surgical"
    #: pixels: OCR and box what was found ("redact"), replace the image with a
    #: solid placeholder ("remove"), or leave it as drawn ("keep")
    images: ImagesRule = "redact"
    #: videos: "redact" them, or "exclude" them from this recipient's bundle
    videos: VideosRule = "redact"
    #: the recipient's rules; None for the strictest view
    policy: RecipientPolicy | None = None
    #: regions the applicant boxed by hand; an engine that cannot paint them withholds the file
    boxes: tuple[ManualBox, ...] = ()


@dataclass(slots=True)
class _Seen:
    """A text with findings: what was found and every place it was read."""

    findings: list[Finding]
    where: list[tuple[int | None, str]] = field(default_factory=list)


#: a text with findings as another planner adopts it: (text, findings, places read)
MemoEntry = tuple[str, list[Finding], list[tuple[int | None, str]]]


def recipient_rules(policy: Policy, recipient: str) -> RecipientPolicy | None:
    """The recipient's rules, None for the strictest view; unknown names are an error."""
    if recipient in policy.recipients:
        return policy.recipients[recipient]
    if recipient in DEFAULT_RECIPIENTS:
        return None
    known = ", ".join(sorted(set(policy.recipients) | set(DEFAULT_RECIPIENTS)))
    raise PolicyError(f"unknown recipient '{recipient}' (recipients are: {known})")


class RecipientPlanner:
    """Scans texts once and plans redactions for any recipient of one case."""

    #: texts per detector call in :meth:`scan`; several NLP batches, bounded whatever the file's size
    SCAN_BATCH = 4096

    def __init__(
        self,
        detector: Detector,
        policy: Policy,
        labeller: Labeller | None = None,
        review: FileReview | None = None,
    ) -> None:
        self.detector = detector
        self.policy = policy
        self.labeller = labeller if labeller is not None else Labeller()
        self.review = review if review is not None else FileReview()
        self._manual: dict[str, TermMatcher | None] = {}
        #: texts with findings, in the order they were first read
        self._memo: dict[str, _Seen] = {}
        #: texts read with nothing found
        self._clean: set[str] = set()

    # -- reading -------------------------------------------------------------

    def scan(self, texts: Sequence[str], where: Sequence[tuple[int | None, str]] | None = None) -> None:
        """Scan texts in batches (faster than one by one), noting where each text with findings was read."""
        for start in range(0, len(texts), self.SCAN_BATCH):
            batch = texts[start : start + self.SCAN_BATCH]
            todo = [t for t in dict.fromkeys(batch) if t not in self._memo and t not in self._clean]
            for text, found in zip(todo, self.detector.scan_many(todo), strict=True):
                self._remember(text, found)
        if where is None:
            return
        memo = self._memo
        for text, place in zip(texts, where, strict=True):
            # A text without findings yields no located finding: its places need not be kept.
            seen = memo.get(text)
            if seen is not None and place not in seen.where:
                seen.where.append(place)

    def findings(self, text: str) -> list[Finding]:
        seen = self._memo.get(text)
        if seen is not None:
            return seen.findings
        if text in self._clean:
            return []
        return self._remember(text, self.detector.scan(text))

    def located_findings(self) -> list[tuple[int | None, str, Finding]]:
        """Every finding met so far, once per place it was read: (page, source, finding)."""
        out: list[tuple[int | None, str, Finding]] = []
        for seen in self._memo.values():
            for page, source in seen.where or [(None, "other")]:
                out.extend((page, source, f) for f in seen.findings)
        return out

    def memo(self) -> list[MemoEntry]:
        """The texts with findings, in the order first read, with where each was read.

        It is all another planner needs to answer as this one does about
        findings (:meth:`adopt`); texts without findings are left out.
        """
        return [(text, seen.findings, list(seen.where)) for text, seen in self._memo.items()]

    def adopt(self, entries: Sequence[MemoEntry]) -> None:
        """Take another planner's :meth:`memo` as if this one had scanned those texts, in that order."""
        for text, found, where in entries:
            seen = self._memo.get(text)
            if seen is None:
                self._clean.discard(text)
                seen = self._memo[text] = _Seen(found)
            for place in where:
                if place not in seen.where:
                    seen.where.append(place)

    def _remember(self, text: str, found: list[Finding]) -> list[Finding]:
        if found:
            self._memo[text] = _Seen(found)
        else:
            self._clean.add(text)
        return found

    # -- planning ------------------------------------------------------------

    def recipient_policy(self, recipient: str) -> RecipientPolicy | None:
        return recipient_rules(self.policy, recipient)

    def reviewed(self, finding: Finding, recipient: str) -> Decision | None:
        """The applicant's decision on ``finding`` for ``recipient``, if the review made one."""
        review = self.review.for_recipient(recipient)
        key = fold(finding.text)
        if key in review.kept_folds:
            return Decision("keep", "kept in the applicant's review")
        if key in review.redacted_folds:
            return Decision("redact", "redacted in the applicant's review")
        return None

    def redactions(self, findings: Sequence[Finding], recipient: str) -> list[Redaction]:
        from exchange.domain.detection.outputs import redactions_for  # noqa: PLC0415  (cycle)

        review = self.review.for_recipient(recipient)
        kept, forced = review.kept_folds, review.redacted_folds
        if kept:
            findings = [f for f in findings if fold(f.text) not in kept]
        if self.recipient_policy(recipient) is None:
            spans = [Redaction(f.start, f.end, f.entity_type, None) for f in findings]
        else:
            spans = redactions_for(findings, recipient, self.policy, self.labeller)
        if forced:
            chosen = [f for f in findings if fold(f.text) in forced]
            spans.extend(Redaction(f.start, f.end, f.entity_type, None) for f in chosen)
            spans = merge_redactions(spans)
        return spans

    def manual_redactions(self, text: str, recipient: str) -> list[Redaction]:
        """Spans of the values the review redacts by hand (text selections), wherever they occur."""
        review = self.review.for_recipient(recipient)
        if not review.redact:
            return []
        if recipient not in self._manual:
            terms = build_terms((), sorted(review.redact), short_names=False)
            self._manual[recipient] = TermMatcher(terms) if terms else None
        matcher = self._manual[recipient]
        if matcher is None:
            return []
        return [Redaction(hit.start, hit.end, MANUAL, None) for hit in matcher.find(text)]

    def sensitive(self, findings: Sequence[Finding], recipient: str) -> list[str]:
        from exchange.domain.detection.outputs import sensitive_values  # noqa: PLC0415  (cycle)

        review = self.review.for_recipient(recipient)
        if self.recipient_policy(recipient) is None:
            values = sorted(
                {f.text for f in findings} | set(self.policy.customers) | set(self.policy.trade_secrets)
            )
        else:
            values = sensitive_values(findings, recipient, self.policy)
        return _reviewed_values(values, review)

    def plan(self, recipient: str) -> RecipientPlan:
        """A plan whose ``find`` uses this planner's memo; see module docstring."""
        rpolicy = self.recipient_policy(recipient)
        every = [f for seen in self._memo.values() for f in seen.findings]
        values = self.sensitive(every, recipient)
        known = {fold(v) for v in values}

        answers: dict[str, Sequence[Redaction]] = {}

        def find(text: str) -> Sequence[Redaction]:
            # Engines ask about the same text often (repeated cells, per-page retries); the
            # answer for one recipient does not change once its labels are assigned.
            answer = answers.get(text)
            if answer is not None:
                return answer
            found = self.findings(text)
            manual = self.manual_redactions(text, recipient)
            if not found and not manual:
                # Not remembered here: most texts find nothing, and the planner's set says so as fast.
                return ()
            for value in self.sensitive(found, recipient):
                key = fold(value)
                if key not in known:
                    known.add(key)
                    values.append(value)
            spans = self.redactions(found, recipient)
            answer = answers[text] = merge_redactions([*spans, *manual]) if manual else spans
            return answer

        return RecipientPlan(
            recipient=recipient,
            find=find,
            sensitive_values=values,
            mode=rpolicy.mode if rpolicy else "surgical",
            images=rpolicy.images if rpolicy else "redact",
            videos=rpolicy.videos if rpolicy else "redact",
            policy=rpolicy,
            boxes=self.review.for_recipient(recipient).boxes,
        )

    def redact_name(self, value: str, recipient: str) -> str:
        """A short string (case title, file name) as ``recipient`` may see it.

        Uses the plain-text engine's replacement so a name reads like a
        redacted line of text: ``Order for ████████ (████████).pdf``.
        """
        from exchange.domain.redaction.text import redact_text  # noqa: PLC0415  (domain peer)

        spans = [*self.redactions(self.findings(value), recipient), *self.manual_redactions(value, recipient)]
        return redact_text(value, merge_redactions(spans))


def _reviewed_values(values: Sequence[str], review: RecipientReview) -> list[str]:
    """``values`` as the verifiers must check them after the applicant's review."""
    out = list(values)
    kept = review.kept_folds
    if kept:
        # Verifiers search substrings: a value inside a kept one would flag the kept text itself.
        out = [v for v in out if not any(fold(v) in k for k in kept)]
    seen = {fold(v) for v in out}
    out.extend(v for v in sorted(review.redact) if fold(v) not in seen)
    return out

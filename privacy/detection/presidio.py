"""comity's detector for Presidio users: the same findings through Presidio's interfaces.

`ComityRecognizer` is the whole scanner as one Presidio `EntityRecognizer`: the finders run
and their overlaps are resolved exactly as `PiiScanner.scan` resolves them, so Presidio's
own de-duplication (which only drops a span contained in another of the *same* type) has
nothing left to change, and a PERSON `区建` is never reported inside the ADDRESS
`北京市朝阳区建国路88号`. One instance per language, Chinese and English: the finders
read both scripts in any text, so both languages return the same findings.

Nothing is downloaded: `offline_nlp_engine` is Presidio's `NoOpNlpEngine` (no spaCy model;
an `AnalyzerEngine()` built with its defaults would fetch `en_core_web_lg`), and tldextract,
which Presidio's stock e-mail recognizer calls, reads its bundled suffix list
(`offline.make_tldextract_offline`).

    registry = RecognizerRegistry(supported_languages=["zh", "en"])
    for r in comity_recognizers():
        registry.add_recognizer(r)
    engine = AnalyzerEngine(registry=registry, nlp_engine=offline_nlp_engine(),
                            supported_languages=["zh", "en"])
    BatchAnalyzerEngine(engine).analyze_iterator(texts, language="zh")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts, NoOpNlpEngine
from presidio_analyzer.recognizer_registry import RecognizerRegistry

from privacy.detection.analyzer import PiiScanner
from privacy.detection.entities import ALL_TYPES
from privacy.detection.offline import make_tldextract_offline

SUPPORTED_LANGUAGES = ("zh", "en")
NAME = "ComityRecognizer"


class ComityRecognizer(EntityRecognizer):  # type: ignore[misc]
    """All of comity's entity types for one language, answered by a shared `PiiScanner`."""

    def __init__(self, language: str = "zh", scanner: PiiScanner | None = None) -> None:
        if language not in SUPPORTED_LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        self.scanner = scanner if scanner is not None else PiiScanner()
        super().__init__(supported_entities=list(ALL_TYPES), name=NAME,
                         supported_language=language)

    def load(self) -> None:
        """Nothing to load: the finders' tables ship with the package."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        wanted = [e for e in entities if e in ALL_TYPES]  # the registry may hold others'
        if not wanted:
            return []
        meta = {RecognizerResult.RECOGNIZER_NAME_KEY: NAME,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}
        return [RecognizerResult(f.type, f.start, f.end, f.score,
                                 recognition_metadata=dict(meta))
                for f in self.scanner.scan(text, wanted)]


def comity_recognizers(languages: Sequence[str] = SUPPORTED_LANGUAGES,
                       scanner: PiiScanner | None = None) -> list[ComityRecognizer]:
    """One recognizer per language, sharing one scanner, for any `RecognizerRegistry`."""
    make_tldextract_offline()
    shared = scanner if scanner is not None else PiiScanner()
    return [ComityRecognizer(lang, shared) for lang in languages]


def offline_nlp_engine(languages: Sequence[str] = SUPPORTED_LANGUAGES) -> NoOpNlpEngine:
    """Presidio's no-op NLP engine for these languages: no model to download or load."""
    return NoOpNlpEngine(models=[{"lang_code": lang, "model_name": "noop"}
                                 for lang in languages])


def presidio_engine(scanner: PiiScanner | None = None,
                    languages: Sequence[str] = SUPPORTED_LANGUAGES) -> Any:
    """An AnalyzerEngine holding only comity's detector, for `zh` and `en`: its `analyze`
    returns exactly what `PiiScanner.scan` returns."""
    langs = list(languages)
    registry = RecognizerRegistry(supported_languages=langs)
    for r in comity_recognizers(langs, scanner):
        registry.add_recognizer(r)
    return AnalyzerEngine(registry=registry, nlp_engine=offline_nlp_engine(langs),
                          supported_languages=langs)

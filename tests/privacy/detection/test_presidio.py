"""Presidio users get the same detector: `presidio_engine()` and comity's recognizers in a
user's own registry, through `AnalyzerEngine` and `BatchAnalyzerEngine`, return exactly
what `PiiScanner` returns, for Chinese and English, without touching the network."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from presidio_analyzer import (
    AnalyzerEngine,
    BatchAnalyzerEngine,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
)
from presidio_analyzer.recognizer_registry import RecognizerRegistry

from privacy.detection.analyzer import PiiScanner
from privacy.detection.entities import Finding
from privacy.detection.presidio import (
    SUPPORTED_LANGUAGES,
    ComityRecognizer,
    comity_recognizers,
    offline_nlp_engine,
    presidio_engine,
)

pytestmark = [pytest.mark.unit, pytest.mark.xdist_group("pii-recognizers")]
CORPUS = Path(__file__).parents[3] / "benchmarks" / "data" / "pii_corpus.jsonl"
Span = tuple[str, int, int, float]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Nothing here may download a model or a suffix list."""
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, str]]:
    return [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def scanner() -> PiiScanner:
    return PiiScanner()


def ours(found: list[Finding]) -> list[Span]:
    return sorted((f.type, f.start, f.end, f.score) for f in found)


def theirs(results: list[RecognizerResult]) -> list[Span]:
    return sorted((r.entity_type, r.start, r.end, r.score) for r in results)


def test_the_engine_returns_exactly_the_scanner_findings_on_the_corpus(
        scanner: PiiScanner, corpus: list[dict[str, str]]) -> None:
    engine = presidio_engine(scanner)
    assert set(engine.supported_languages) == {"zh", "en"}
    for rec in corpus:
        got = theirs(engine.analyze(rec["text"], language=rec["lang"]))
        assert got == ours(scanner.scan(rec["text"])), rec["id"]


def test_both_languages_and_an_entity_subset_agree_with_the_scanner(scanner: PiiScanner
                                                                    ) -> None:
    engine = presidio_engine(scanner)
    text = "王芳 住在 北京市朝阳区建国路88号，手机13812345678，call John Smith at +1 415 555 0132"
    for lang in SUPPORTED_LANGUAGES:
        assert theirs(engine.analyze(text, language=lang)) == ours(scanner.scan(text))
        assert theirs(engine.analyze(text, language=lang, entities=["PERSON"])) == ours(
            scanner.scan(text, ["PERSON"]))


def test_no_person_inside_the_address() -> None:
    text = "王芳 住在 北京市朝阳区建国路88号"
    got = {(r.entity_type, text[r.start:r.end])
           for r in presidio_engine().analyze(text, language="zh")}
    assert got == {("PERSON", "王芳"), ("ADDRESS", "北京市朝阳区建国路88号")}


def test_a_users_own_registry_and_batch_engine_give_the_scanner_findings(
        scanner: PiiScanner, corpus: list[dict[str, str]]) -> None:
    """A Presidio user's own registry, with a recognizer of their own beside ours, run
    through BatchAnalyzerEngine: our entities are exactly the scanner's, theirs are kept."""
    registry = RecognizerRegistry(supported_languages=["zh", "en"])
    member = Pattern("member", r"(?<![0-9A-Za-z])VIP-\d{6}(?![0-9A-Za-z])", 0.9)
    for lang in ("zh", "en"):
        registry.add_recognizer(PatternRecognizer("MEMBER_ID", patterns=[member],
                                                  supported_language=lang))
    for r in comity_recognizers(scanner=scanner):
        registry.add_recognizer(r)
    engine = AnalyzerEngine(registry=registry, nlp_engine=offline_nlp_engine(),
                            supported_languages=["zh", "en"])
    batch = BatchAnalyzerEngine(analyzer_engine=engine)
    for lang in ("zh", "en"):
        recs = [r for r in corpus if r["lang"] == lang][:600]
        texts = [r["text"] + " 会员VIP-123456" for r in recs]
        results = batch.analyze_iterator(texts, language=lang)
        for text, res, want in zip(texts, results, scanner.scan_many(texts), strict=True):
            assert theirs([r for r in res if r.entity_type != "MEMBER_ID"]) == ours(want)
            assert [text[r.start:r.end] for r in res if r.entity_type == "MEMBER_ID"] == [
                "VIP-123456"]


def test_only_chinese_and_english_are_offered() -> None:
    with pytest.raises(ValueError, match="language"):
        ComityRecognizer("fr")

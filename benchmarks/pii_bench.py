"""Scores comity's PII scanner on the labelled corpus and times it against stock Presidio
(pattern recognizers only, NoOpNlpEngine) on the same machine, corpus and core, in one run.

    python benchmarks/pii_bench.py [--corpus FILE] [--json OUT]

Scoring: exact (type, start, end) matches, micro-averaged; per-type precision/recall/F1;
hard negatives (records whose every number/code is a decoy) must produce no finding.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

from privacy.detection.analyzer import PiiScanner
from privacy.detection.offline import make_tldextract_offline

CORPUS = Path(__file__).parent / "data" / "pii_corpus.jsonl"


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def score(records: list[dict[str, Any]], predictions: list[list[tuple[str, int, int]]]
          ) -> dict[str, Any]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    hard_hits = []
    for rec, pred in zip(records, predictions, strict=True):
        gold = {(e["type"], e["start"], e["end"]) for e in rec["entities"]}
        got = set(pred)
        for t, *_ in gold & got:
            tp[t] += 1
        for t, *_ in got - gold:
            fp[t] += 1
        for t, *_ in gold - got:
            fn[t] += 1
        if rec.get("hard_negative") and got:
            hard_hits.append({"id": rec["id"], "found": sorted(got)})

    def prf(t: int, p: int, n: int) -> dict[str, float]:
        prec = t / (t + p) if t + p else 1.0
        rec = t / (t + n) if t + n else 1.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        return {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
                "support": t + n}

    types = sorted(set(tp) | set(fp) | set(fn))
    return {"micro": prf(sum(tp.values()), sum(fp.values()), sum(fn.values())),
            "per_type": {t: prf(tp[t], fp[t], fn[t]) for t in types},
            "hard_negative_records": sum(1 for r in records if r.get("hard_negative")),
            "hard_negatives_flagged": hard_hits}


def stock_presidio() -> Any:
    from presidio_analyzer import AnalyzerEngine, PatternRecognizer
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.recognizer_registry import RecognizerRegistry

    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "noop"}])
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=nlp, languages=["en"])
    registry.recognizers = [r for r in registry.recognizers if isinstance(r, PatternRecognizer)]
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def timed(fn: Any, texts: list[str], repeat: int) -> tuple[float, Any]:
    out = None
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = [fn(t) for t in texts]
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    make_tldextract_offline()
    records = load(args.corpus)
    texts = [r["text"] for r in records]
    scanner = PiiScanner()
    scanner.scan("预热 warm-up 13812345678")
    single_rps, _ = timed(lambda t: scanner.scan(t), texts, args.repeat)
    best = float("inf")
    ours: list[list[tuple[str, int, int]]] = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ours = [[(f.type, f.start, f.end) for f in fs] for fs in scanner.scan_many(texts)]
        best = min(best, time.perf_counter() - t0)
    ours_rps = len(texts) / best
    engine = stock_presidio()
    engine.analyze("warm up", language="en")
    stock_rps, stock = timed(lambda t: [(r.entity_type, r.start, r.end)
                                        for r in engine.analyze(t, language="en")],
                             texts, max(1, args.repeat - 1))
    result = {
        "corpus": str(args.corpus), "records": len(records),
        "comity": {"records_per_s": round(ours_rps, 1),
                   "records_per_s_one_at_a_time": round(single_rps, 1), **score(records, ours)},
        "stock_presidio_pattern_only": {"records_per_s": round(stock_rps, 1),
                                        **score(records, stock)},
        "speedup": round(ours_rps / stock_rps, 2),
    }
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    c = cast(dict[str, Any], result["comity"])
    s = cast(dict[str, Any], result["stock_presidio_pattern_only"])
    print(f"comity: micro-F1 {c['micro']['f1']:.4f}, {c['records_per_s']:.0f} rec/s batched "
          f"({c['records_per_s_one_at_a_time']:.0f} one at a time), "
          f"hard negatives flagged {len(c['hard_negatives_flagged'])}/"
          f"{c['hard_negative_records']}")
    print(f"stock Presidio (patterns): micro-F1 {s['micro']['f1']:.4f}, "
          f"{s['records_per_s']:.0f} rec/s; speed-up x{result['speedup']}")
    for t, m in c["per_type"].items():
        print(f"  {t:16s} P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f} "
              f"(n={m['support']})")


if __name__ == "__main__":
    main()

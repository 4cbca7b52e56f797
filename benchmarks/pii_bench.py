"""Scores comity's PII scanner on several corpora and times it against stock Presidio
(pattern recognizers only, NoOpNlpEngine) on the same machine, corpus and core, in one run.

    python benchmarks/pii_bench.py [--corpus FILE] [--real-zh BIO] [--en-ner CONLL] [--json OUT]
                                   [--stream-mb 1000] [--stream-seconds 60]

Corpora, each scored per type (precision/recall/F1, exact span and span overlap):
- `own`: benchmarks/data/pii_corpus.jsonl (our generator, with hard negatives);
- `independent`: values from Faker's zh_CN/en_US providers in other phrasings
  (`pii_corpus.independent_corpus`); its English PERSON figure is not independent of the
  detector, whose English name lists are Faker's;
- `real_zh` (optional): a Chinese NER file in BIO format (one `char tag` a line, blank line
  between sentences), PERSON only; we used People's Daily 1998's NER dev split (the
  ChineseNER benchmark's `example.dev`, 2,318 sentences, 884 names), which is not shipped.
- `en_ner` (optional): an English NER file in CoNLL-2003 layout (token first, NER tag last,
  IOB1 or IOB2, `-DOCSTART-` lines skipped), PERSON only, tokens joined by single spaces.
  No English NER corpus ships in a package we could find (spaCy's wheel tests hold two-token
  samples, seqeval's sdist CoNLL-2000 chunks, nltk's wheel no corpora), so none is vendored.
Column classification: per column type precision/recall over `pii_corpus.messy_tables`.
Speed: comity (names on, and names on the dictionary only) and stock Presidio are timed
alternately, by process CPU time, `--repeat` times each on the own corpus; the ratio is of
the medians. The name model's phrase cache is emptied before each comity run.
Memory: a JSONL of `--stream-mb` is generated under /tmp and streamed through the scanner
for at most `--stream-seconds`; RSS is sampled as it goes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from privacy.detection.analyzer import PiiScanner
from privacy.detection.lac import shared_tagger
from privacy.detection.names import ChineseNameFinder
from privacy.detection.offline import make_tldextract_offline

CORPUS = Path(__file__).parent / "data" / "pii_corpus.jsonl"
Span = tuple[str, int, int]


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def load_tagged(path: Path, joiner: str = "") -> list[dict[str, Any]]:
    """PERSON spans from a token-per-line NER file (token first, tag last, a blank line
    between sentences, `-DOCSTART-` lines skipped), the sentence being its tokens joined by
    `joiner`: "" for a character-per-line Chinese BIO file, " " for CoNLL-2003's English.
    IOB2 and IOB1 both read: `B-PER` opens a name, and so does an `I-PER` after no name."""
    records: list[dict[str, Any]] = []
    words: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        text, ents, open_at = "", [], -1
        for k, (w, t) in enumerate(zip(words, tags, strict=True)):
            if k:
                text += joiner
            if open_at >= 0 and t != "I-PER":
                ents.append({"type": "PERSON", "start": open_at,
                             "end": len(text) - len(joiner)})
                open_at = -1
            if t == "B-PER" or (t == "I-PER" and open_at < 0):
                open_at = len(text)
            text += w
        if open_at >= 0:
            ents.append({"type": "PERSON", "start": open_at, "end": len(text)})
        records.append({"id": f"s{len(records)}", "text": text, "entities": ents})

    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0] == "-DOCSTART-":
            if words:
                flush()
                words, tags = [], []
            continue
        words.append(parts[0])
        tags.append(parts[-1])
    if words:
        flush()
    return records


def load_bio(path: Path) -> list[dict[str, Any]]:
    """A Chinese character-per-line BIO file (one `char tag` a line)."""
    return load_tagged(path)


def load_conll(path: Path) -> list[dict[str, Any]]:
    """An English file in CoNLL-2003 layout, tokens joined by one space."""
    return load_tagged(path, " ")


def _prf(t: int, p: int, n: int) -> dict[str, float]:
    prec = t / (t + p) if t + p else 1.0
    rec = t / (t + n) if t + n else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
            "support": t + n}


def score(records: list[dict[str, Any]], predictions: list[list[Span]],
          only: set[str] | None = None) -> dict[str, Any]:
    """Exact (type, start, end) matches and span overlap (same type, any shared character:
    precision over predictions, recall over gold), micro-averaged and per type."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    op: Counter[str] = Counter()  # overlapping predictions
    og: Counter[str] = Counter()  # overlapped gold
    np_: Counter[str] = Counter()
    ng: Counter[str] = Counter()
    hard_hits = []
    for rec, pred in zip(records, predictions, strict=True):
        gold = {(e["type"], e["start"], e["end"]) for e in rec["entities"]
                if only is None or e["type"] in only}
        got = {p for p in pred if only is None or p[0] in only}
        for t, *_ in gold & got:
            tp[t] += 1
        for t, *_ in got - gold:
            fp[t] += 1
        for t, *_ in gold - got:
            fn[t] += 1
        for t, a, b in got:
            np_[t] += 1
            op[t] += any(g[0] == t and a < g[2] and g[1] < b for g in gold)
        for t, a, b in gold:
            ng[t] += 1
            og[t] += any(p[0] == t and a < p[2] and p[1] < b for p in got)
        if rec.get("hard_negative") and got:
            hard_hits.append({"id": rec["id"], "found": sorted(got)})

    def overlap(t: str | None) -> dict[str, float]:
        keys = [t] if t else list(set(np_) | set(ng))
        pp, pn = sum(op[k] for k in keys), sum(np_[k] for k in keys)
        gp, gn = sum(og[k] for k in keys), sum(ng[k] for k in keys)
        prec = pp / pn if pn else 1.0
        rec = gp / gn if gn else 1.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        return {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4)}

    types = sorted(set(tp) | set(fp) | set(fn))
    return {"micro": _prf(sum(tp.values()), sum(fp.values()), sum(fn.values())),
            "micro_overlap": overlap(None),
            "per_type": {t: {**_prf(tp[t], fp[t], fn[t]), "overlap": overlap(t)}
                         for t in types},
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


def ours(scanner: PiiScanner, texts: list[str]) -> list[list[Span]]:
    return [[(f.type, f.start, f.end) for f in fs] for fs in scanner.scan_many(texts)]


def dictionary_only() -> PiiScanner:
    scanner = PiiScanner()
    for f in scanner.finders:
        if isinstance(f, ChineseNameFinder):
            f.model = False
    return scanner


def alternate(runs: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    """CPU seconds of each run, the runs interleaved so that load on a shared machine
    falls on all of them alike."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            t0 = time.process_time()
            fn()
            times[name].append(time.process_time() - t0)
    return times


def classification(scanner: PiiScanner) -> dict[str, Any]:
    import pandas as pd
    from pii_corpus import messy_tables

    from privacy.detection.table import classify_columns

    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    wrong = []
    tables = messy_tables()
    for t, (header, rows, labels) in enumerate(tables):
        frame = pd.DataFrame(rows, columns=header, dtype=str)
        for c in classify_columns(frame, scanner):
            want = labels[c.column]
            if c.pii_type == want:
                if want:
                    tp[want] += 1
                continue
            wrong.append({"table": t, "column": c.column, "predicted": c.pii_type,
                          "label": want})
            if c.pii_type:
                fp[c.pii_type] += 1
            if want:
                fn[want] += 1
    types = sorted(set(tp) | set(fp) | set(fn))
    return {"tables": len(tables), "columns": sum(len(h) for h, _, _ in tables),
            "per_type": {k: _prf(tp[k], fp[k], fn[k]) for k in types},
            "micro": _prf(sum(tp.values()), sum(fp.values()), sum(fn.values())),
            "misclassified": wrong}


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _write_stream(path: Path, size_mb: int, seed: int = 2027) -> None:
    """About `size_mb` of generated records, fresh values throughout (a repeated corpus
    would be answered from the name model's phrase cache after its first pass)."""
    from pii_corpus import records

    target = size_mb * 2**20
    if path.exists() and path.stat().st_size >= target:
        return
    written = 0
    with path.open("w", encoding="utf-8") as fh:
        for i, r in enumerate(records(None, seed)):
            line = json.dumps({"id": i, "text": r["text"]}, ensure_ascii=False) + "\n"
            fh.write(line)
            written += len(line.encode())
            if written >= target:
                break


def stream(scanner: PiiScanner, size_mb: int, seconds: float) -> dict[str, Any]:
    """Stream a large JSONL through `scan_jsonl`'s reader and batches, writing results to a
    temporary file, for at most `seconds`; RSS sampled every batch."""
    from privacy.detection.service import BATCH, read_jsonl

    path = Path(tempfile.gettempdir()) / f"comity_pii_stream_fresh_{size_mb}mb.jsonl"
    _write_stream(path, size_mb)

    def batches() -> Iterator[list[str]]:
        batch: list[str] = []
        for _n, _id, text in read_jsonl(path):
            batch.append(text)
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    samples: list[float] = []
    n = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w", encoding="utf-8") as out:
        for batch in batches():
            for fs in scanner.scan_many(batch):
                out.write(json.dumps([f.as_dict() for f in fs]) + "\n")
            n += len(batch)
            samples.append(_rss_mb())
            if time.perf_counter() - t0 > seconds:
                break
    done = time.perf_counter() - t0
    warm = samples[min(len(samples) - 1, 4)]
    return {"file": str(path), "file_mb": round(path.stat().st_size / 2**20, 1),
            "records_scanned": n, "seconds": round(done, 1),
            "records_per_s_wall": round(n / done, 1),
            "rss_mb_after_warmup": round(warm, 1), "rss_mb_last": round(samples[-1], 1),
            "rss_mb_max": round(max(samples), 1),
            "growth_mb_after_warmup": round(max(samples) - warm, 1),
            "peak_rss_mb_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                         / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--real-zh", type=Path, help="Chinese NER file in BIO format (PERSON)")
    ap.add_argument("--en-ner", type=Path, help="English NER file, CoNLL-2003 layout (PERSON)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--stream-mb", type=int, default=0, help="0: skip the memory run")
    ap.add_argument("--stream-seconds", type=float, default=60.0)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    make_tldextract_offline()
    scanner = PiiScanner()
    scanner.scan("预热 warm-up 13812345678，克林顿")
    plain = dictionary_only()
    engine = stock_presidio()
    engine.analyze("warm up", language="en")

    def presidio(texts: list[str]) -> list[list[Span]]:
        return [[(r.entity_type, r.start, r.end) for r in engine.analyze(t, language="en")]
                for t in texts]

    corpora: dict[str, list[dict[str, Any]]] = {"own": load(args.corpus)}
    from pii_corpus import independent_corpus

    corpora["independent"] = independent_corpus()
    if args.real_zh:
        corpora["real_zh"] = load_bio(args.real_zh)
    if args.en_ner:
        corpora["en_ner"] = load_conll(args.en_ner)
    quality: dict[str, Any] = {}
    for name, records in corpora.items():
        texts = [r["text"] for r in records]
        only = {"PERSON"} if name in ("real_zh", "en_ner") else None
        quality[name] = {
            "records": len(records),
            "comity": score(records, ours(scanner, texts), only),
            "comity_dictionary_names": score(records, ours(plain, texts), only),
            "stock_presidio_pattern_only": score(records, presidio(texts), only)}
    texts = [r["text"] for r in corpora["own"]]
    tagger = shared_tagger()

    def cold() -> Any:
        tagger._cache.clear()  # the scoring pass above saw these texts: start each run cold
        return scanner.scan_many(texts)

    times = alternate({"comity": cold,
                       "comity_dictionary_names": lambda: plain.scan_many(texts),
                       "stock_presidio_pattern_only": lambda: presidio(texts)}, args.repeat)
    rate = {k: round(len(texts) / statistics.median(v), 1) for k, v in times.items()}
    speed = {"corpus": "own", "records": len(texts), "repeat": args.repeat,
             "clock": "process CPU time, runs interleaved", "records_per_s": rate,
             "speedup": round(rate["comity"] / rate["stock_presidio_pattern_only"], 2),
             "speedup_dictionary_names": round(rate["comity_dictionary_names"]
                                               / rate["stock_presidio_pattern_only"], 2)}
    result: dict[str, Any] = {"quality": quality, "speed": speed,
                              "columns": classification(scanner)}
    if args.stream_mb:
        result["memory"] = stream(scanner, args.stream_mb, args.stream_seconds)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    report(result)


def report(result: dict[str, Any]) -> None:
    for name, q in result["quality"].items():
        c, s = q["comity"], q["stock_presidio_pattern_only"]
        print(f"[{name}] {q['records']} records: comity micro-F1 {c['micro']['f1']:.4f} "
              f"(overlap {c['micro_overlap']['f1']:.4f}), dictionary names "
              f"{q['comity_dictionary_names']['micro']['f1']:.4f}, stock Presidio "
              f"{s['micro']['f1']:.4f}")
        for t, m in c["per_type"].items():
            print(f"  {t:16s} P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f} "
                  f"overlap F1 {m['overlap']['f1']:.3f} (n={m['support']})")
    sp = result["speed"]
    print(f"speed ({sp['clock']}): " + ", ".join(f"{k} {v:.0f} rec/s"
                                                  for k, v in sp["records_per_s"].items())
          + f"; x{sp['speedup']} (dictionary names x{sp['speedup_dictionary_names']})")
    col = result["columns"]
    print(f"columns: {col['columns']} in {col['tables']} tables, micro P "
          f"{col['micro']['precision']:.3f} R {col['micro']['recall']:.3f}")
    for t, m in col["per_type"].items():
        print(f"  {t:16s} P {m['precision']:.3f} R {m['recall']:.3f} (n={m['support']})")
    if "memory" in result:
        m = result["memory"]
        print(f"memory: {m['records_scanned']} records of a {m['file_mb']} MB JSONL in "
              f"{m['seconds']} s; RSS {m['rss_mb_after_warmup']} MB after warm-up, max "
              f"{m['rss_mb_max']} MB (growth {m['growth_mb_after_warmup']} MB)")


if __name__ == "__main__":
    main()

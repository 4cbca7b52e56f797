"""De-duplicated federated aggregates (issue 26): link the customers of k brands by a ring of
commutative blindings, count each linked person at exactly one brand. Pure: arrays in and out.

Who is linked: at each brand, only the customers whose separate `cross_brand_sharing` consent
the policy engine accepts and who have a valid join key (`federation.brand.overlap.entered`,
the overlap's gate). The others are left out of a de-duplicated answer altogether, never
linked: its population is the linked customers only, and the answer says so.

The ring (DH-PSI, `privacy.overlap.psi`, extended to k parties): brand i sends H(x)^(a_i) for
its keys; in round r = 1..k-1 the relay hands the array that started at brand i to brand
(i + r) mod k, which raises every point to its own run scalar in place (order preserved).
After k-1 rounds every array holds H(x)^(a_1...a_k), the same tag for the same key at every
brand, still in its brand's own order. The relay then finds, for each tag, the brands that
hold it, picks one owner among them (the holder whose SHA-256 of (run id, tag, brand) is
smallest: no brand is always the owner) and sends each brand the keep bits of its own points
only. A brand aggregates its kept, linked customers; each person is counted once, so the
sensitivity of the sum is `max_rows_per_unit` x 1 silo, not x k.

What the relay learns: every brand's number of linked keys and, for every tag, which brands
hold it, so the size of every intersection among the k brands (exactly what a DH-PSI relay
learns, for all subsets at once); never a key, since under DDH a blinded point is random to
whoever lacks a scalar. What a brand learns: the other brands' numbers of linked keys (the
lengths of the arrays it blinds; never an array with its own scalar in it, so it can compare
nothing), and its own keep bits, so that each of its customers
whose bit is 0 is also a (consented, linked) customer of some other brand of the query, which
is what those customers' separate consent to cross-brand sharing covers (PIPL Art. 23); a
kept customer may or may not be shared. Assumed honest but curious, as the overlap is.

Assumption, as in the overlap: one join key per person. A person with two numbers at two
brands is two people here and could be counted twice; within a brand, customer ids that
share a join key are one person (the per-unit bound applies to the person).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from privacy.overlap.psi import POINT_BYTES, PsiError

OWNER_DOMAIN = b"comity/dedup/owner/v1\x00"
PERSON_COLUMN = "__person"


@dataclass(frozen=True)
class DedupCounts:
    """What the relay learned and what the run records (lineage and audit): per brand the
    linked keys that entered and those kept there, and the digests of the consent snapshots
    the brands gated on."""

    entered: dict[str, int]
    kept: dict[str, int]
    consent_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def linked(self) -> int:
        """Distinct linked people: each is kept at exactly one brand."""
        return sum(self.kept.values())

    @property
    def dropped(self) -> int:
        """Points left out as duplicates of a person counted at another brand."""
        return sum(self.entered.values()) - self.linked


def ring_holder(origin: int, step: int, k: int) -> int:
    """Which brand (by position) blinds, in round `step` (1..k-1), the array that started at
    brand `origin`: each round every brand blinds exactly one other brand's array."""
    if k < 2 or not 1 <= step < k or not 0 <= origin < k:
        raise ValueError(f"no ring step {step} from {origin} among {k} brands")
    return (origin + step) % k


def _void(arr: np.ndarray) -> np.ndarray:
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != POINT_BYTES:
        raise PsiError(f"tags must be an (n, {POINT_BYTES}) uint8 array, "
                       f"got {arr.dtype} {list(arr.shape)}")
    return np.ascontiguousarray(arr).view(f"V{POINT_BYTES}").ravel()


def owner_rank(run_id: str, tag: bytes, brand: str) -> int:
    """A holder's draw for one tag: the smallest draw owns it. A hash of the run, the tag
    and the brand, so ownership is spread over the brands and differs between runs, and
    depends on no other person's tag (removing one person moves nobody else)."""
    h = hashlib.sha256(OWNER_DOMAIN + run_id.encode() + b"\x00" + tag + brand.encode())
    return int.from_bytes(h.digest()[:8], "big")


def keep_bits(tags: Mapping[str, np.ndarray], run_id: str) -> dict[str, np.ndarray]:
    """For each brand, in its own order, whether it counts each of its tags: exactly one
    holder of every distinct tag keeps it. A brand's own tags must be distinct (its join keys
    are), otherwise it is a protocol error."""
    brands = list(tags)
    voids = [_void(tags[b]) for b in brands]
    for b, v in zip(brands, voids, strict=True):
        if np.unique(v).size != v.size:
            raise PsiError(f"brand '{b}' sent the same tag twice")
    if not voids or sum(v.size for v in voids) == 0:
        return {b: np.zeros(len(v), dtype=bool) for b, v in zip(brands, voids, strict=True)}
    every = np.concatenate(voids)
    ranks = np.fromiter((owner_rank(run_id, t.tobytes(), b)
                         for b, v in zip(brands, voids, strict=True) for t in v),
                        dtype=np.uint64, count=every.size)
    _, group = np.unique(every, return_inverse=True)
    order = np.lexsort((ranks, group))
    first = np.ones(order.size, dtype=bool)
    first[1:] = group[order][1:] != group[order][:-1]
    keep = np.zeros(every.size, dtype=bool)
    keep[order[first]] = True
    out: dict[str, np.ndarray] = {}
    start = 0
    for b, v in zip(brands, voids, strict=True):
        out[b] = keep[start:start + v.size]
        start += v.size
    return out


def linked_rows(frame: pl.DataFrame, unit_col: str, person_of: Mapping[str, str]
                ) -> pl.DataFrame:
    """The rows of the kept, linked customers only, their unit column replaced by the person
    (the join key's index at this brand), so `max_rows_per_unit` bounds a person's rows
    however many customer ids the person has here."""
    people = pl.DataFrame({unit_col: list(person_of), PERSON_COLUMN: list(person_of.values())},
                          schema={unit_col: pl.String, PERSON_COLUMN: pl.String})
    return (frame.with_columns(pl.col(unit_col).cast(pl.String))
            .join(people, on=unit_col, how="inner", maintain_order="left")
            .drop(unit_col).rename({PERSON_COLUMN: unit_col}))

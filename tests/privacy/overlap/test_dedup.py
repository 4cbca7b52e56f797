"""The de-duplication ring (`privacy.overlap.dedup`): after k-1 ring rounds every brand holds
the same tag for a shared key; exactly one brand keeps each person; the kept keys are the
plain de-duplicated union; and a de-duplicated release is calibrated for one silo."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.aggregates.federated import federated_plan, local_vector, release_sum
from privacy.aggregates.schemas import AggregateQuery, ColumnSpec, DatasetSpec
from privacy.overlap.dedup import DedupCounts, keep_bits, linked_rows, ring_holder
from privacy.overlap.psi import Blinder, PsiError

pytestmark = pytest.mark.unit
KEYS = st.sets(st.text(st.characters(codec="utf-8"), min_size=1, max_size=10), max_size=25)


def ring_tags(keysets: list[list[str]], run: str) -> list[np.ndarray]:
    """What the relay ends with: the ring of `federation.coordinator.dedup_round` in process."""
    k = len(keysets)
    blinders = [Blinder.derive(bytes([65 + i]) * 32, run) for i in range(k)]
    arrays = [blinders[i].blind_keys(keys) for i, keys in enumerate(keysets)]
    for step in range(1, k):
        arrays = [blinders[ring_holder(i, step, k)].blind(
            bytes(row) for row in arrays[i]) for i in range(k)]
    return arrays


@settings(max_examples=30, deadline=None)
@given(own=st.lists(KEYS, min_size=2, max_size=5), shared=KEYS,
       run=st.text(min_size=1, max_size=8), data=st.data())
def test_ring_links_shared_keys_and_keeps_each_person_once(
        own: list[set[str]], shared: set[str], run: str, data: st.DataObject) -> None:
    k = len(own)
    # every shared key is at two or more brands, drawn per key
    at = {key: data.draw(st.sets(st.integers(0, k - 1), min_size=2, max_size=k))
          for key in sorted(shared)}
    keysets = [sorted(own[i] | {key for key, brands in at.items() if i in brands})
               for i in range(k)]
    tags = ring_tags(keysets, run)
    tag_of: dict[str, set[bytes]] = {}
    for keys, arr in zip(keysets, tags, strict=True):
        for key, row in zip(keys, arr, strict=True):
            tag_of.setdefault(key, set()).add(bytes(row))
    assert all(len(t) == 1 for t in tag_of.values())  # one tag per key at every brand
    assert len({t for ts in tag_of.values() for t in ts}) == len(tag_of)  # none collide
    brands = [f"b{i}" for i in range(k)]
    bits = keep_bits(dict(zip(brands, tags, strict=True)), run)
    kept = [key for i, keys in enumerate(keysets)
            for key, bit in zip(keys, bits[brands[i]], strict=True) if bit]
    assert sorted(kept) == sorted(set().union(*keysets))  # the union, each exactly once


def test_owners_are_spread_over_the_brands_and_change_with_the_run() -> None:
    keys = [f"+86138{i:08d}" for i in range(400)]
    owner_of = []
    for run in ("r1", "r2"):
        tags = ring_tags([keys, keys, keys], run)
        bits = keep_bits({"a": tags[0], "b": tags[1], "c": tags[2]}, run)
        assert (bits["a"].astype(int) + bits["b"] + bits["c"] == 1).all()
        owners = np.argmax(np.stack([bits["a"], bits["b"], bits["c"]]), axis=0)
        assert min(np.bincount(owners, minlength=3)) > 80  # ~133 each, never one brand
        owner_of.append(dict(zip(keys, owners.tolist(), strict=True)))
    assert sum(owner_of[0][x] != owner_of[1][x] for x in keys) > 150  # ~2/3 move


def test_a_brand_that_sends_a_tag_twice_is_refused() -> None:
    one = Blinder.derive(b"A" * 32, "r").blind_keys(["x"])
    with pytest.raises(PsiError, match="twice"):
        keep_bits({"a": np.concatenate([one, one]), "b": one}, "r")


def test_linked_rows_keep_only_kept_customers_and_bound_rows_per_person() -> None:
    spec = DatasetSpec(name="d", source="-", format="parquet", unit_col="cid",
                       max_rows_per_unit=2, max_rows=1000, jurisdiction="pipl",
                       columns={"spend": ColumnSpec(dtype="float", bounds=(0.0, 10.0))})
    plan = federated_plan(AggregateQuery(dataset="d", measure="count", epsilon=1.0,
                                         federated=True, dedup=True),
                          spec.model_copy(update={"silos": {"a": "-", "b": "-", "c": "-"}}))
    frame = pl.DataFrame({"cid": ["u1", "u1", "u2", "u2", "u3", "u4"],
                          "spend": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    # u1 and u2 share one join key (person 0): two rows at most for the person; u3 not
    # kept (counted at another brand); u4 not linked (no consent or no key).
    rows = linked_rows(frame, "cid", {"u1": "0", "u2": "0"})
    assert rows["cid"].to_list() == ["0", "0", "0", "0"]
    assert local_vector(rows, plan)[0] * plan.count_norm == 2


def test_a_deduplicated_release_is_calibrated_for_one_silo_and_says_why() -> None:
    spec = DatasetSpec(name="d", source="-", format="parquet", unit_col="cid",
                       max_rows_per_unit=2, max_rows=1000, jurisdiction="pipl",
                       columns={"spend": ColumnSpec(dtype="float", bounds=(0.0, 10.0))},
                       silos={"a": "-", "b": "-", "c": "-", "d": "-", "e": "-"})
    q = AggregateQuery(dataset="d", measure="count", epsilon=1.0, federated=True)
    plan = federated_plan(q, spec)
    everywhere, _ = release_sum(np.array([0.0]), plan, 5)
    once, _ = release_sum(np.array([0.0]), plan, 1, why="de-duplicated")
    assert everywhere.noise[0]["scale"] == pytest.approx(2 * 5)
    assert once.noise[0]["scale"] == pytest.approx(2 * 1)
    assert once.noise[0]["silos_per_person"] == 1 and once.noise[0]["why"] == "de-duplicated"
    assert everywhere.noise[0]["silos_per_person"] == 5


def test_counts_say_how_many_were_linked_and_dropped() -> None:
    c = DedupCounts(entered={"a": 10, "b": 7, "c": 3}, kept={"a": 6, "b": 5, "c": 3})
    assert c.linked == 14 and c.dropped == 6

"""The bench protocol (issue 20): ties against the held-out item, a validation item per
user, a seeded shuffle of same-time rows, and seeds summarised with a t-interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from compliance.errors import InputError
from federation.bench.harness import typical_popularity
from federation.bench.protocol import parse_seeds, protocol, summarize_seeds, t_interval
from federation.data.interactions import leave_last_out, validation_split
from federation.models.recommend import RecData, held_out_ranks, rank_metrics

pytestmark = pytest.mark.unit


def _one_user(train: list[int], test: int, n_items: int) -> RecData:
    return RecData(1, n_items, np.zeros(len(train), dtype=np.int64),
                   np.asarray(train, dtype=np.int64), np.asarray([test]))


def test_score_ties_count_against_the_held_out_item() -> None:
    """A model that scores every item alike used to put the held-out item first (rank =
    items scoring strictly higher = 0, a hit); now it is last among the unseen."""
    data = _one_user([0, 1], test=5, n_items=30)
    flat = np.zeros((1, 30))
    assert rank_metrics(flat, data, k=10) == {"hr10": 0.0, "ndcg10": 0.0}
    assert held_out_ranks(flat, data.train_u, data.train_i, data.test_i)[0] == 27


def test_a_tie_with_nine_others_is_rank_nine_and_with_ten_a_miss() -> None:
    scores = np.zeros((1, 30))
    scores[0, 5] = 1.0
    scores[0, 10:19] = 1.0  # nine others tie with the held-out item: rank 9, still a hit
    data = _one_user([0], test=5, n_items=30)
    assert held_out_ranks(scores, data.train_u, data.train_i, data.test_i)[0] == 9
    assert rank_metrics(scores, data)["hr10"] == 1.0
    scores[0, 0] = 5.0  # a seen item never counts, however high it scores
    scores[0, 19] = 1.0  # a tenth tie: rank 10, a miss
    assert rank_metrics(scores, data)["hr10"] == 0.0


def _log(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [r[0] for r in rows],
                         "ordered_at": pd.to_datetime([r[1] for r in rows], utc=True),
                         "item_id": [r[2] for r in rows]})


ITEMS = {k: v for v, k in enumerate("abcdefgh")}


def test_validation_item_is_second_to_last_and_test_item_last() -> None:
    log = _log([("u1", "2024-01-01", "a"), ("u1", "2024-01-02", "b"),
                ("u1", "2024-01-03", "c"), ("u1", "2024-01-04", "d"),
                ("u2", "2024-01-01", "e"), ("u2", "2024-01-03", "f"),
                ("u2", "2024-01-02", "g"),
                ("u3", "2024-01-01", "a"), ("u3", "2024-01-02", "b")])  # two items: left out
    choice, final = validation_split(log, ITEMS, tie_seed=0)
    assert choice.n_users == final.n_users == 2
    assert list(final.test_i) == [ITEMS["d"], ITEMS["f"]]
    assert list(choice.test_i) == [ITEMS["c"], ITEMS["g"]]
    # validation trains on what came before it; test trains on that plus the validation item
    assert [list(h) for h in choice.user_histories] == [[0, 1], [ITEMS["e"]]]
    assert [list(h) for h in final.user_histories] == [[0, 1, 2], [ITEMS["e"], ITEMS["g"]]]


def _baskets(n_users: int) -> pd.DataFrame:
    """Every user buys one item, then a basket of three at one moment."""
    rows = []
    for u in range(n_users):
        rows.append((f"u{u:03d}", "2024-01-01", "h"))
        rows += [(f"u{u:03d}", "2024-02-01", it) for it in "abc"]
    return _log(rows)


def test_same_time_ties_are_shuffled_by_the_seed_not_by_item_id() -> None:
    log = _baskets(60)
    old = leave_last_out(log, ITEMS)
    assert set(old.test_i) == {ITEMS["c"]}  # item-id order: always the alphabetically last
    held = validation_split(log, ITEMS, tie_seed=0)[1].test_i
    assert set(held) == {ITEMS["a"], ITEMS["b"], ITEMS["c"]}
    assert np.array_equal(held, validation_split(log, ITEMS, tie_seed=0)[1].test_i)
    assert not np.array_equal(held, validation_split(log, ITEMS, tie_seed=1)[1].test_i)


def test_the_tie_shuffle_is_the_same_in_a_brand_slice_and_in_the_pooled_log() -> None:
    """Pooled baselines and brands must score the same held-out items."""
    log = _baskets(40).sample(frac=1.0, random_state=3)  # row order must not matter
    pooled = validation_split(log, ITEMS, tie_seed=7)[1]
    users = sorted(log["customer_id"].unique())
    brand = validation_split(log[log["customer_id"].isin(users[10:20])], ITEMS,
                             tie_seed=7)[1]
    assert np.array_equal(brand.test_i, pooled.test_i[10:20])


def test_typical_popularity_works_on_pandas_3_string_ids() -> None:
    """pandas 3 reads ids as `str`, whose median raised TypeError in bench_recommend."""
    log = pd.DataFrame({"customer_id": pd.Series(["1", "1", "2", "3"], dtype="str"),
                        "item_id": pd.Series(["10", "11", "10", "10"], dtype="str")})
    typical = typical_popularity(log)
    assert typical.to_dict() == {"1": 2.0, "2": 3.0, "3": 3.0}


def test_seeds_are_summarised_as_mean_and_t_interval() -> None:
    per_seed = [{"metrics": {"hr10": v}, "users": 10, "chosen": {"lam": lam}, "name": n}
                for v, lam, n in [(0.1, 50.0, "ease"), (0.2, 50.0, "ease"),
                                  (0.3, 200.0, "markov")]]
    mean, ci = summarize_seeds(per_seed)
    assert mean["metrics"]["hr10"] == pytest.approx(0.2)
    half = 4.302653 * 0.1 / np.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert ci["metrics"]["hr10"] == pytest.approx([0.2 - half, 0.2 + half], abs=1e-5)
    assert mean["users"] == 10 and ci["users"] == [10, 10]
    assert mean["chosen"]["lam"] == [50.0, 50.0, 200.0]  # choices are never averaged
    assert mean["name"] == ["ease", "ease", "markov"]
    assert t_interval([0.5]) is None


def test_protocol_is_stated_and_seeds_are_checked() -> None:
    p = protocol("recommend", (0, 1, 2))
    assert p["seeds"] == [0, 1, 2] and "second-to-last" in p["split"]
    assert "seeded" in p["tie_rule"] and "at least as high" in p["score_ties"]
    assert parse_seeds("0,1, 2") == (0, 1, 2)
    for bad in ("0,x", "", "1,1", "-1"):
        with pytest.raises(InputError) as info:
            parse_seeds(bad)
        assert info.value.column == "--seeds"

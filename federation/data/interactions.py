"""A brand's orders as implicit feedback for the recommender: one row per (customer, item),
ordered by time, each customer's last item held out (leave-last-out) for evaluation, or all of
it as history for serving. Pure pandas and numpy.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from federation.models.recommend import RecData


def interactions(orders: pd.DataFrame, items: Mapping[str, int]) -> tuple[pd.DataFrame, int]:
    """Gated orders as an implicit-feedback log on the catalogue; rows with an item the
    catalogue lacks are left out and counted."""
    log = pd.DataFrame({"customer_id": orders["customer_id"],
                        "ordered_at": pd.to_datetime(orders["ordered_at"], utc=True),
                        "item_id": orders["item_id"].astype(str)})
    known = log["item_id"].isin(items.keys())
    return log[known], int((~known).sum())


def _tie_key(log: pd.DataFrame, seed: int) -> np.ndarray:
    """A seeded pseudo-random key per row from its own content (customer, item), so a row
    gets the same key in the pooled log and in its brand's slice of it."""
    return pd.util.hash_pandas_object(
        log[["customer_id", "item_id"]].astype(str), index=False,
        hash_key=f"{seed % 10**16:016d}").to_numpy()


def _implicit(log: pd.DataFrame, tie_seed: int | None = None) -> pd.DataFrame:
    """Sorted by customer, then time; repeat purchases count once (implicit feedback), at
    their last time. Rows with the same time are in item-id order, or, with `tie_seed`, in a
    seeded shuffle: a basket's items share a timestamp, and item-id order would make the
    held-out item always the alphabetically last of the final basket (`validation_split`)."""
    if tie_seed is None:
        log = log.sort_values(["customer_id", "ordered_at", "item_id"], kind="stable")
    else:
        log = (log.assign(_tie=_tie_key(log, tie_seed))
               .sort_values(["customer_id", "ordered_at", "_tie"], kind="stable")
               .drop(columns="_tie"))
    return log.drop_duplicates(["customer_id", "item_id"], keep="last")


def _encode(log: pd.DataFrame, item_index: dict[str, int]
            ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """User rows (in order of first appearance), item rows, and each customer's user row."""
    users = {str(c): k for k, c in enumerate(log["customer_id"].unique())}
    u = log["customer_id"].astype(str).map(users).to_numpy(dtype=np.int64)
    i = log["item_id"].map(item_index).to_numpy(dtype=np.int64)
    return u, i, users


def _hold_last(n_users: int, n_items: int, u: np.ndarray, i: np.ndarray) -> RecData:
    """Each user's last row held out, the rows before it trained on (`u` sorted, every
    user present)."""
    last = np.r_[u[1:] != u[:-1], True]
    test = np.empty(n_users, dtype=np.int64)
    test[u[last]] = i[last]
    return RecData(n_users, n_items, u[~last], i[~last], test)


def leave_last_out(log: pd.DataFrame, item_index: dict[str, int], *,
                   tie_seed: int | None = None) -> RecData:
    """`log` has customer_id, ordered_at, item_id. Users with fewer than two distinct items
    cannot be evaluated and are left out."""
    log = _implicit(log, tie_seed)
    log = log[log.groupby("customer_id")["item_id"].transform("size") >= 2]
    u, i, users = _encode(log, item_index)
    return _hold_last(len(users), len(item_index), u, i)


def validation_split(log: pd.DataFrame, item_index: dict[str, int], *, tie_seed: int
                     ) -> tuple[RecData, RecData]:
    """The bench's protocol: `(choice, final)` over the same user rows. `final` holds each
    user's last item out (the test item, scored once) and trains on everything before it;
    `choice` holds the second-to-last out (the validation item, on which every
    hyper-parameter, epoch count and model family is chosen) and trains on the items before
    that, so nothing chosen ever saw a test item.

    Same-timestamp ties are ordered by a seeded shuffle (`tie_seed`) rather than holding the
    last basket out as a set: HR@10 and NDCG@10 are defined for one held-out item, every
    model here (and the federated wire arrays) carries one test item per user, and a random
    member of the last basket is an unbiased draw of "an item bought last". Users with fewer
    than three distinct items cannot have both a validation and a test item and are left out
    of both."""
    log = _implicit(log, tie_seed)
    log = log[log.groupby("customer_id")["item_id"].transform("size") >= 3]
    u, i, users = _encode(log, item_index)
    final = _hold_last(len(users), len(item_index), u, i)
    choice = _hold_last(len(users), len(item_index), final.train_u, final.train_i)
    return choice, final


def histories(log: pd.DataFrame, item_index: dict[str, int]) -> tuple[RecData, dict[str, int]]:
    """Serving's view: every interaction is history (nothing held out), and the customer id
    of each user row. `test_i` repeats the last item only to keep the shape."""
    u, i, users = _encode(_implicit(log), item_index)
    last = np.zeros(len(users), dtype=np.int64)
    last[u] = i
    return RecData(len(users), len(item_index), u, i, last), users

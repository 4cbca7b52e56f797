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


def _implicit(log: pd.DataFrame) -> pd.DataFrame:
    """Sorted by customer, then time; repeat purchases count once (implicit feedback)."""
    log = log.sort_values(["customer_id", "ordered_at", "item_id"], kind="stable")
    return log.drop_duplicates(["customer_id", "item_id"], keep="last")


def _encode(log: pd.DataFrame, item_index: dict[str, int]
            ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """User rows (in order of first appearance), item rows, and each customer's user row."""
    users = {str(c): k for k, c in enumerate(log["customer_id"].unique())}
    u = log["customer_id"].astype(str).map(users).to_numpy(dtype=np.int64)
    i = log["item_id"].map(item_index).to_numpy(dtype=np.int64)
    return u, i, users


def leave_last_out(log: pd.DataFrame, item_index: dict[str, int]) -> RecData:
    """`log` has customer_id, ordered_at, item_id. Users with fewer than two distinct items
    cannot be evaluated and are left out."""
    log = _implicit(log)
    log = log[log.groupby("customer_id")["item_id"].transform("size") >= 2]
    u, i, users = _encode(log, item_index)
    last = np.r_[u[1:] != u[:-1], True]
    test = np.empty(len(users), dtype=np.int64)
    test[u[last]] = i[last]
    return RecData(len(users), len(item_index), u[~last], i[~last], test)


def histories(log: pd.DataFrame, item_index: dict[str, int]) -> tuple[RecData, dict[str, int]]:
    """Serving's view: every interaction is history (nothing held out), and the customer id
    of each user row. `test_i` repeats the last item only to keep the shape."""
    u, i, users = _encode(_implicit(log), item_index)
    last = np.zeros(len(users), dtype=np.int64)
    last[u] = i
    return RecData(len(users), len(item_index), u, i, last), users

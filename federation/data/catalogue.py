"""The alliance catalogue: every item id the brands sell, in one shared order.

The shared recommendation model has one row per catalogue item, so the coordinator and every
brand must index items the same way. Products are not personal data; the catalogue is
published beside the silos (`<silo root>/catalogue.csv`, one `item_id` column).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from compliance.errors import InputError
from privacy.detection.table import read_table

CATALOGUE_FILE = "catalogue.csv"


def write_catalogue(items: Iterable[str], root: Path) -> Path:
    path = root / CATALOGUE_FILE
    pd.DataFrame({"item_id": sorted(set(items))}).to_csv(path, index=False)
    return path


def load_catalogue(path: Path) -> dict[str, int]:
    """Item id -> row of the shared model. Refuses a missing file, a missing column, blank
    or duplicated ids, naming the line."""
    if not path.exists():
        raise InputError("alliance catalogue not found (the recommendation model needs it)",
                         file=str(path))
    frame = read_table(path, limit=None)
    if "item_id" not in frame.columns:
        raise InputError("catalogue needs an 'item_id' column", file=str(path), line=1)
    ids = frame["item_id"].str.strip()
    for mask, what in ((ids == "", "blank item id"), (ids.duplicated(), "duplicated item id")):
        if mask.any():
            raise InputError(what, file=str(path), line=int(mask.to_numpy().argmax()) + 2,
                             column="item_id")
    return {item: k for k, item in enumerate(ids)}

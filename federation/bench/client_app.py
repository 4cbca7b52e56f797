"""The benchmark's ClientApp: each virtual SuperNode is one brand holding its own partition
(written by the harness to `data-dir/brand-<i>.npz`), and trains and evaluates with the
product's own local code (`federation.brand.local`); only the data source differs. Only
weights, counts and metrics come back.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from federation.brand.local import DataFn, LocalData, handle_evaluate, handle_train
from federation.brand.secagg import secagg_when_asked
from federation.models.churn import ChurnData
from federation.models.recommend import RecData
from federation.settings import RunSettings

DATA_DIR_KEY = "data-dir"
app = ClientApp(mods=[secagg_when_asked])
torch.set_num_threads(1)


@lru_cache(maxsize=8)
def _load(path: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def partition_path(data_dir: Path, partition: int) -> Path:
    return data_dir / f"brand-{partition}.npz"


def _data(context: Context) -> DataFn:
    def data(settings: RunSettings, config: Mapping[str, Any]) -> LocalData:
        pid = int(cast(int, context.node_config["partition-id"]))
        arrays = _load(str(partition_path(Path(str(config[DATA_DIR_KEY])), pid)))
        if settings.model == "recommend":
            return RecData.from_arrays(arrays)
        return ChurnData(**arrays)
    return data


@app.train()
def train(msg: Message, context: Context) -> Message:
    return handle_train(msg, context, _data(context))


@app.evaluate()
def evaluate_handler(msg: Message, context: Context) -> Message:
    return handle_evaluate(msg, context, _data(context))

"""Flower ClientApp (Message API): one per brand, next to the brand's own data.

Three handlers: `query` runs the privacy gate and reports counts and the consent snapshot
digest (no identifiers); `train` and `evaluate` run the brand's local work
(`federation.brand.local`); a SecAgg+ train round may instead carry a DP aggregate plan
(`federation.brand.aggregates`); `query.psi` runs a stage of a cross-brand overlap
(`federation.brand.overlap`); `query.dedup` a stage of a de-duplicated aggregate's linkage
(`federation.brand.dedup`). Only weights, counts, bounded aggregates and metrics leave the
brand, and the outermost mod (`federation.brand.wire_mod`) checks every reply before it does.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from federation.brand.node import BrandNode, node_of, prepare_for_run
from federation.brand.secagg import secagg_when_asked
from federation.brand.wire_mod import declare_population, wire_audit_mod
from federation.gate.dedup import DEDUP_ACTION
from federation.gate.overlap import PSI_ACTION
from federation.gate.report import GateReport
from federation.settings import RunSettings, is_aggregate_round

if TYPE_CHECKING:
    from federation.brand.local import DataFn, LocalData, Trained

# Flower starts a ClientApp process for every message, and SecAgg+ sends four per round of
# which one trains: torch (about 2.5 s of CPU to import) and the models load only in the
# handlers that need them, so the key-exchange, unmasking, PSI and aggregate stages start
# without them. A slow start under load costs the process its task token (a 401 loop).
app = ClientApp(mods=[wire_audit_mod, secagg_when_asked])


def _torch_local() -> None:
    """Load torch for a training or evaluation message, one thread per ClientApp."""
    import torch

    torch.set_num_threads(1)


@lru_cache(maxsize=32)  # a simulation actor may serve several brands and runs
def prepared(settings: RunSettings, node: BrandNode) -> tuple[GateReport, LocalData]:
    """The node's rows for the run: gated once (at the gate query), then read from the
    node's run cache by every later message of the run, each in a fresh process."""
    from federation.brand.run_cache import RunCache  # the models' data classes, torch

    cache = RunCache(node.config.state.dir)
    hit = cache.load(settings)
    if hit is not None:
        return hit
    p = prepare_for_run(settings, node)
    report = GateReport.of(p)
    cache.save(settings, report, p.data)
    return report, p.data


def _prepared(settings: RunSettings, context: Context) -> tuple[GateReport, LocalData]:
    report, data = prepared(settings, node_of(context, settings.brands))
    declare_population(context, *report.population)
    return report, data


def _data(context: Context) -> DataFn:
    def data(settings: RunSettings, _config: Mapping[str, Any]) -> LocalData:
        return _prepared(settings, context)[1]
    return data


@app.query()
def gate_report(msg: Message, context: Context) -> Message:
    settings = RunSettings.from_mapping(msg.content.config_records["config"])
    return Message(_prepared(settings, context)[0].to_records(), reply_to=msg)


def _aggregate(config: dict[str, Any], context: Context) -> Trained:
    from federation.brand.aggregates import answer  # OpenDP and Polars: only for these rounds

    return answer(config, context)


@app.query(PSI_ACTION)
def overlap(msg: Message, context: Context) -> Message:
    """One stage of a cross-brand PSI (`federation.brand.overlap`): blinded points only."""
    from federation.brand.overlap import handle  # Polars and phonenumbers: only for these

    return handle(msg, context)


@app.query(DEDUP_ACTION)
def dedup(msg: Message, context: Context) -> Message:
    """One stage of a de-duplicated aggregate's linkage (`federation.brand.dedup`)."""
    from federation.brand.dedup import handle

    return handle(msg, context)


@app.train()
def train(msg: Message, context: Context) -> Message:
    _torch_local()
    from federation.brand.local import handle_train

    return handle_train(msg, context, _data(context), aggregate=(
        is_aggregate_round, lambda cfg: _aggregate(cfg, context)))


@app.evaluate()
def evaluate_handler(msg: Message, context: Context) -> Message:
    _torch_local()
    from federation.brand.local import handle_evaluate

    return handle_evaluate(msg, context, _data(context))

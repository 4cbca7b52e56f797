"""A de-duplicated aggregate, the coordinator's side (issue 26; the protocol and what the
relay learns: `privacy.overlap.dedup`): the ring of blindings over the query's brands in
Flower query rounds (`federation.gate.dedup`), one owner per linked person, each brand's own
keep bits back to it, then the usual SecAgg+ round (`aggregate_round.secure_sum`) in which
each brand counts only the customers it kept. Every reply passes the wire audit."""

from __future__ import annotations

import numpy as np
from flwr.app import Context
from flwr.serverapp import Grid

from federation.coordinator.aggregate_round import secure_sum
from federation.coordinator.auditing_grid import AuditingGrid
from federation.coordinator.overlap_round import _metric, _points, _send, blind_stage
from federation.errors import FederationError
from federation.gate.dedup import KEEP, KEEP_RECORD, KEPT, DedupRequest
from federation.gate.overlap import POINTS
from privacy.aggregates.federated import FederatedPlan
from privacy.overlap.dedup import DedupCounts, keep_bits, ring_holder


def relay_dedup(grid: Grid, req: DedupRequest) -> DedupCounts:
    """Blind at every brand, pass each array round the ring (k-1 rounds, order kept), pick
    one owner per tag, and send each brand the keep bits of its own points only."""
    audited = AuditingGrid(grid)
    blinded = blind_stage(audited, req, len(req.brands))
    node_of = blinded.node_of
    ring = [node_of[b] for b in req.brands]
    k = len(ring)
    arrays = [blinded.points[b] for b in req.brands]
    sizes = [len(a) for a in arrays]
    for step in range(1, k):
        holder = {ring_holder(i, step, k): i for i in range(k)}  # holder position -> origin
        got = _send(audited, req, "reblind",
                    {ring[h]: {POINTS: arrays[o]} for h, o in holder.items()})
        arrays = [_points(got[ring[ring_holder(i, step, k)]]) for i in range(k)]
        if [len(a) for a in arrays] != sizes:
            raise FederationError("a brand answered a reblind stage with the wrong number "
                                  "of points")
    bits = keep_bits(dict(zip(req.brands, arrays, strict=True)), req.run_id)
    third = _send(audited, req, "keep",
                  {node_of[b]: {KEEP: bits[b].astype(np.uint8)} for b in req.brands},
                  record=KEEP_RECORD)
    kept = {b: _metric(third[node_of[b]], KEPT) for b in req.brands}
    if any(kept[b] != int(bits[b].sum()) for b in req.brands):
        raise FederationError("a brand kept other points than its keep bits say")
    return DedupCounts(entered=blinded.entered, kept=kept, consent_sha256=blinded.digests)


def dedup_secure_sum(grid: Grid, context: Context, plan: FederatedPlan, run_id: str,
                     as_of: str) -> tuple[np.ndarray, DedupCounts]:
    """The linkage, then the secure sum over each brand's kept customers."""
    counts = relay_dedup(grid, DedupRequest(run_id=run_id, brands=tuple(sorted(plan.spec.silos)),
                                            as_of=as_of))
    summed, _ = secure_sum(grid, context, plan, linkage=run_id)
    return summed, counts

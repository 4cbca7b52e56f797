"""A cross-brand overlap, the coordinator's side: the relay of a DH-PSI in Flower query
rounds (`federation.gate.overlap`). It sees blinded points only; it counts the points both
brands blinded, which equal exactly where the join keys do, and hands the exact count to the
caller (`privacy.overlap.service`), which releases it with DP noise or, in exact mode, checks
it against the requesting brand's own count. Every reply passes the wire audit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flwr.app import Array, ArrayRecord, Message, RecordDict
from flwr.serverapp import Grid

from federation.coordinator.auditing_grid import AuditingGrid
from federation.coordinator.coordinator import wait_for_nodes
from federation.errors import FederationError
from federation.gate.dedup import DEDUP_CONFIG, DEDUP_MESSAGE_TYPE, DedupRequest, DedupStage
from federation.gate.overlap import (
    CONSENT_DIGEST,
    ENTERED,
    MATCHED,
    MINE,
    POINTS,
    PSI_CONFIG,
    PSI_MESSAGE_TYPE,
    PSI_RECORD,
    PSI_REPLY,
    THEIRS,
    OverlapRequest,
    Stage,
)
from privacy.overlap.psi import intersection_size
from privacy.overlap.schemas import PsiCounts


def _send(grid: Grid, req: OverlapRequest | DedupRequest, stage: Stage | DedupStage,
          to: dict[int, dict[str, np.ndarray]], *, record: str = PSI_RECORD
          ) -> dict[int, Message]:
    """One stage to the given nodes, each with its own arrays (in `record`); every reply, or
    an error. An overlap's and a de-duplication's linkage stages both go through here."""
    msgs = []
    config, message_type = ((PSI_CONFIG, PSI_MESSAGE_TYPE) if isinstance(req, OverlapRequest)
                            else (DEDUP_CONFIG, DEDUP_MESSAGE_TYPE))
    for node, arrays in to.items():
        content = RecordDict({config: req.at(stage).to_record()})  # type: ignore[arg-type]
        if arrays:
            content[record] = ArrayRecord({k: Array(v) for k, v in arrays.items()})
        msgs.append(Message(content, dst_node_id=node, message_type=message_type))
    out = {}
    for reply in grid.send_and_receive(msgs, timeout=3600):
        node = reply.metadata.src_node_id
        if reply.has_error():
            raise FederationError(f"brand node {node} failed the overlap's {stage} stage: "
                                  f"{reply.error.reason}")
        out[node] = reply
    if len(out) != len(to):
        raise FederationError(f"the overlap's {stage} stage lost {len(to) - len(out)} replies",
                              status_code=503)
    return out


def _metric(reply: Message, key: str) -> int:
    value = reply.content.metric_records["psi-metrics"][key]
    if not isinstance(value, int | float):
        raise FederationError(f"the overlap reply's {key} is not a number")
    return int(value)


def _points(reply: Message, key: str = POINTS) -> np.ndarray:
    return reply.content.array_records[PSI_RECORD][key].numpy()


@dataclass(frozen=True)
class Blinded:
    """The blind stage's answers: each asked brand's node and points, how many keys it
    entered and the digest of the consent snapshot it gated on."""

    node_of: dict[str, int]
    points: dict[str, np.ndarray]
    entered: dict[str, int]
    digests: dict[str, str]


def blind_stage(grid: Grid, req: OverlapRequest | DedupRequest, n_nodes: int) -> Blinded:
    """The first stage of an overlap or a de-duplication: every node blinds; each of the
    request's brands must answer."""
    nodes = wait_for_nodes(grid, n_nodes)
    first = _send(grid, req, "blind", {n: {} for n in nodes})
    node_of = {str(r.content.config_records[PSI_REPLY]["brand-id"]): n for n, r in first.items()}
    missing = [b for b in req.brands if b not in node_of]
    if missing:
        raise FederationError(f"no brand node answered for: {', '.join(missing)}",
                              status_code=503)
    replies = {b: first[node_of[b]] for b in req.brands}
    return Blinded(
        node_of={b: node_of[b] for b in req.brands},
        points={b: _points(r) for b, r in replies.items()},
        entered={b: _metric(r, ENTERED) for b, r in replies.items()},
        digests={b: str(r.content.config_records[PSI_REPLY].get(CONSENT_DIGEST, ""))
                 for b, r in replies.items()})


def relay_overlap(grid: Grid, req: OverlapRequest, *, n_nodes: int | None = None
                  ) -> PsiCounts:
    """Blind at both brands, cross the points over for the second blinding, count the
    common doubly blinded points; in exact mode, hand both arrays to the requester."""
    audited = AuditingGrid(grid)
    blinded = blind_stage(audited, req, n_nodes or len(req.brands))
    a, b = (blinded.node_of[x] for x in req.brands)
    pa, pb = (blinded.points[x] for x in req.brands)
    entered, digests = blinded.entered, blinded.digests
    second = _send(audited, req, "reblind", {b: {POINTS: pa}, a: {POINTS: pb}})
    ab, ba = _points(second[b]), _points(second[a])  # requester's (in order), other's
    if len(ab) != len(pa) or len(ba) != len(pb):
        raise FederationError("a brand answered the reblind stage with the wrong number of "
                              "points")
    size = intersection_size(ab, ba)
    sent = {req.brands[0]: int(pa.nbytes + ba.nbytes), req.brands[1]: int(pb.nbytes + ab.nbytes)}
    if not req.exact:
        return PsiCounts(entered, size, None, sent, digests)
    third = _send(audited, req, "match", {a: {MINE: ab, THEIRS: ba}})
    matched = _metric(third[a], MATCHED)
    return PsiCounts(entered, size, matched, sent, digests)

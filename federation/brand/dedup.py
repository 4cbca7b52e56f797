"""A de-duplicated aggregate, the brand's side of its linkage rounds (`federation.gate.dedup`;
the protocol and what each party learns: `privacy.overlap.dedup`).

Who is linked is decided exactly as for an overlap (`federation.brand.overlap.entered`: the
policy engine per subject on the `cross_brand_sharing` consent snapshot, then the agreed
normalization of the join key); nobody else enters. The brand's points and its run scalar
are the overlap's (`ordered`, `blinder`). At the `keep` stage the brand writes which of its
customers it counts, each with its person (the join key's index here, never the key), to its
state directory (`dedup/<run>.csv`, 0600); the SecAgg+ round that follows reads that file
once and deletes it (`kept_people`).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

from flwr.app import Context, Message

from federation.brand.node import BrandNode
from federation.brand.overlap import blinder, entered, first_stage, ordered, psi_reply
from federation.brand.provision import write_private
from federation.errors import FederationError
from federation.gate.dedup import DEDUP_CONFIG, KEEP, KEEP_RECORD, KEPT, DedupRequest
from federation.gate.overlap import POINTS, PSI_RECORD
from privacy.overlap.psi import PsiError, points


def kept_path(node: BrandNode, run_id: str) -> Path:
    return node.config.state.dir / "dedup" / f"{run_id}.csv"


def kept_people(node: BrandNode, run_id: str) -> dict[str, str]:
    """Customer id -> person of the customers this brand counts in linkage `run_id`; read
    once: the file is deleted, so no later query reuses an old linkage."""
    path = kept_path(node, run_id)
    if not path.exists():
        raise FederationError(f"brand '{node.brand_id}' holds no linkage for run {run_id} "
                              "(its keep stage did not run)", status_code=409)
    with open(path, encoding="utf-8", newline="") as f:
        people = {r["customer_id"]: r["person"] for r in csv.DictReader(f)}
    path.unlink()
    return people


def handle(msg: Message, context: Context) -> Message:
    """One linkage stage at this brand."""
    req = DedupRequest.from_record(msg.content.config_records[DEDUP_CONFIG])  # type: ignore[arg-type]
    node, done = first_stage(msg, context, req)
    if done is not None:
        return done
    as_of = datetime.fromisoformat(req.as_of)
    if req.stage == "reblind":
        arr = msg.content.array_records[PSI_RECORD][POINTS].numpy()
        return psi_reply(msg, node.brand_id,
                         arrays={POINTS: blinder(node, req.run_id).blind(points(arr))})
    bits = msg.content.array_records[KEEP_RECORD][KEEP].numpy().astype(bool)
    ent = entered(node, as_of, sync=False)
    _, keys = ordered(node, req.run_id, ent)
    if len(bits) != len(keys):
        raise PsiError(f"the relay sent {len(bits)} keep bits for {len(keys)} linked keys")
    person = {k: str(i) for i, k in enumerate(ent.keys)}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["customer_id", "person"])
    w.writerows([cid, person[k]] for k, bit in zip(keys, bits, strict=True) if bit
                for cid in ent.customers[k])
    write_private(kept_path(node, req.run_id), buf.getvalue().encode())
    return psi_reply(msg, node.brand_id, metrics={KEPT: int(bits.sum())})

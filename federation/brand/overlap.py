"""A cross-brand overlap, the brand's side of its PSI rounds (`federation.gate.overlap`).

Consent first (PIPL Art. 23; GDPR Art. 6(1)(a)): linking a customer across brands provides
their information to another handler, so only customers whose `cross_brand_sharing` consent
the policy engine accepts (`federation.gate.rules.decide_subject`: separate consent under
PIPL, no minor without a guardian) enter. Their join key is the column of the agreement's
join-key category (`policies/alliance_agreement.yaml`), normalized the agreed way (E.164),
hashed and blinded with this brand's own scalar (`privacy.overlap.psi`), derived per run from
`psi.key` in the node's key directory: it never leaves the brand. Only blinded points and
counts leave; in exact mode the requesting brand keeps the list of its own matched customers
in its state directory (`overlaps/<run>.csv`), and sends only how many.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict

from compliance.consent.state import snapshot_digest
from compliance.errors import InputError
from compliance.policy.engine import PolicyEngine
from compliance.policy.governance import JoinKey, load_governance
from compliance.policy.loader import load_policies
from federation.brand.node import BrandNode, node_of
from federation.brand.provision import write_private
from federation.gate.dedup import DedupRequest
from federation.gate.overlap import (
    CONSENT_DIGEST,
    ENTERED,
    MATCHED,
    MINE,
    POINTS,
    PSI_CONFIG,
    PSI_RECORD,
    PSI_REPLY,
    THEIRS,
    OverlapRequest,
)
from federation.gate.rules import decide_subject
from privacy.keys import secret_file
from privacy.overlap.psi import Blinder, PsiError, matches, normalize_phone, points, shuffled

PURPOSE = "cross_brand_sharing"
PSI_KEY_FILE = "psi.key"


@dataclass(frozen=True)
class Entered:
    """The distinct join keys of the consented customers, sorted, and whose they are."""

    keys: tuple[str, ...]
    customers: dict[str, tuple[str, ...]]  # join key -> this brand's customer ids
    refused: int  # customers the policy engine kept out
    no_key: int  # consented customers without a valid join key
    consent_sha256: str = ""  # digest of the consent snapshot gated on (the coordinator checks)


def join_key() -> JoinKey:
    key = load_governance(load_policies()).agreement.join_key
    if key is None:
        raise InputError("the alliance agreement names no join key for overlaps",
                         file="policies/alliance_agreement.yaml", column="join_key")
    return key


def entered(node: BrandNode, as_of: datetime, *, sync: bool = True) -> Entered:
    """Who enters an overlap at this brand: one decision per subject by the policy engine
    on the consent snapshot at `as_of` (synced from the coordinator first unless `sync` is
    False), then the agreed normalization of the join key."""
    policies = load_policies()
    jk = join_key()
    silo = node.silo(policies)
    table = silo.column_map.customers
    cols = [c for c, cat in table.columns.items() if cat == jk.category]
    if not cols:
        raise InputError(f"no column of the customers table holds the join key category "
                         f"'{jk.category}'", file=str(node.config.silo.dir / "column_map.yaml"),
                         column="customers")
    snapshot = node.snapshot(PURPOSE, as_of, sync=sync)
    engine = PolicyEngine(policies)
    categories = frozenset({jk.category})
    allowed: dict[str, bool] = {}
    owners: dict[str, list[str]] = {}
    refused = no_key = 0
    frame = silo.customers
    for cid, raw in zip(frame[table.key].astype(str), frame[cols[0]], strict=True):
        p = node.pseudonymizer(cid)
        if p not in allowed:
            allowed[p] = decide_subject(engine, snapshot.get(p), brand_id=node.brand_id,
                                        purpose=PURPOSE, jurisdiction=silo.column_map.jurisdiction,
                                        categories=categories).allowed
        if not allowed[p]:
            refused += 1
            continue
        key = normalize_phone(raw, jk.default_region)
        if key is None:
            no_key += 1
            continue
        owners.setdefault(key, []).append(cid)
    keys = tuple(sorted(owners))
    return Entered(keys, {k: tuple(v) for k, v in owners.items()}, refused, no_key,
                   snapshot_digest(snapshot))


def blinder(node: BrandNode, run_id: str) -> Blinder:
    return Blinder.derive(secret_file(PSI_KEY_FILE, 32, node.config.keys.dir), run_id)


def ordered(node: BrandNode, run_id: str, ent: Entered) -> tuple[np.ndarray, list[str]]:
    """This brand's blinded points in the order they travel (by blinded value), with the
    join key of each row: the same order in every stage of the run."""
    own = blinder(node, run_id).blind_keys(ent.keys)
    view = np.ascontiguousarray(own).view("V32").ravel()
    order = np.argsort(view, kind="stable")
    return own[order], [ent.keys[i] for i in order]


def result_path(node: BrandNode, run_id: str) -> Path:
    return node.config.state.dir / "overlaps" / f"{run_id}.csv"


def psi_reply(msg: Message, brand: str, *, arrays: dict[str, np.ndarray] | None = None,
           metrics: dict[str, int] | None = None, digest: str | None = None) -> Message:
    meta: dict[str, str] = {"brand-id": brand}
    if digest is not None:
        meta[CONSENT_DIGEST] = digest
    content = RecordDict({PSI_REPLY: ConfigRecord(meta)})  # type: ignore[arg-type]
    if arrays:
        content[PSI_RECORD] = ArrayRecord({k: Array(v) for k, v in arrays.items()})
    if metrics:
        content["psi-metrics"] = MetricRecord(metrics)  # type: ignore[arg-type]
    return Message(content, reply_to=msg)


def first_stage(msg: Message, context: Context, req: OverlapRequest | DedupRequest
                ) -> tuple[BrandNode, Message | None]:
    """This node, and its reply where the stage is answered alike in an overlap and a
    de-duplication: nothing from a node that is not asked; at the blind stage (consent
    synced first) the points of the entered keys, how many, and the snapshot's digest."""
    node = node_of(context, list(req.brands))
    if node.brand_id not in req.brands:  # a node of the alliance that is not asked
        return node, psi_reply(msg, node.brand_id)
    if req.stage != "blind":
        return node, None
    ent = entered(node, datetime.fromisoformat(req.as_of), sync=True)
    pts, _ = ordered(node, req.run_id, ent)
    return node, psi_reply(msg, node.brand_id, arrays={POINTS: pts},
                           metrics={ENTERED: len(ent.keys)}, digest=ent.consent_sha256)


def handle(msg: Message, context: Context) -> Message:
    """One PSI stage at this brand."""
    req = OverlapRequest.from_record(msg.content.config_records[PSI_CONFIG])  # type: ignore[arg-type]
    node, done = first_stage(msg, context, req)
    if done is not None:
        return done
    as_of = datetime.fromisoformat(req.as_of)
    arrays = msg.content.array_records[PSI_RECORD]
    if req.stage == "reblind":
        out = blinder(node, req.run_id).blind(points(arrays[POINTS].numpy()))
        # The requester's points keep their order (it must find its own rows in exact mode);
        # the other brand's are reordered so no position says anything.
        return psi_reply(msg, node.brand_id,
                      arrays={POINTS: shuffled(out) if node.brand_id == req.requester else out})
    if node.brand_id != req.requester or not req.exact:
        raise PsiError("only the requesting brand matches, and only in exact mode")
    ent = entered(node, as_of, sync=False)
    _, keys = ordered(node, req.run_id, ent)
    mine, theirs = arrays[MINE].numpy(), arrays[THEIRS].numpy()
    if len(mine) != len(keys):
        raise PsiError(f"the relay returned {len(mine)} points for {len(keys)} entered keys")
    hits = matches(mine, theirs)
    shared = sorted(cid for k, hit in zip(keys, hits, strict=True) if hit
                    for cid in ent.customers[k])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["customer_id"])
    w.writerows([c] for c in shared)
    write_private(result_path(node, req.run_id), buf.getvalue().encode())
    return psi_reply(msg, node.brand_id, metrics={MATCHED: int(hits.sum())})

"""Overlap test records: one overlap run on record, for tests that need the table populated
(anchors); and a brand node with its silo and consents imported through the coordinator's
API, for the overlap and de-duplication rounds."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from compliance.database import Database, utcnow
from compliance.policy.loader import load_policies
from compliance.subjects.service import SubjectService
from compliance.tokens.service import TokenService
from federation.brand.consent_import import import_consents
from federation.brand.node import BrandNode, load_node
from federation.brand.provision import init_node
from privacy.overlap.dedup import DedupCounts
from privacy.overlap.schemas import OverlapIn, PsiCounts
from privacy.overlap.service import OverlapService


def overlap_records(db: Database, *, dedup: bool = False) -> None:
    """What a completed PSI of brand-a and brand-b would leave: the run and its release (and,
    with `dedup`, a de-duplicated aggregate's linkage of brand-a, brand-b and brand-c)."""
    svc = OverlapService(db, load_policies())
    svc.record("00000000-0000-4000-8000-000000000026", "dpo", "dpo#1",
               OverlapIn(brands=["brand-a", "brand-b"], exact=True, epsilon=1.0),
               PsiCounts({"brand-a": 3, "brand-b": 4}, 2, 2), utcnow(), 0)
    if dedup:
        with db.unit_of_work() as s:
            svc.record_linkage(s, run_id="00000000-0000-4000-8000-000000000027",
                               requester="service:growth", actor="growth", as_of=utcnow(),
                               counts=DedupCounts({"brand-a": 3, "brand-b": 4, "brand-c": 2},
                                                  {"brand-a": 3, "brand-b": 2, "brand-c": 1}),
                               release_id=1)


MAP = {"subject": "cid", "purpose": "purpose", "action": "what", "occurred_at": "at",
       "separate": "sep", "by_guardian": "guardian", "birth_date": "born",
       "actions": {"opt-in": "grant", "opt-out": "withdraw"},
       "defaults": {"notice_version": "2026-01"}}


def consent_rows(cid: str, state: str | None) -> list[dict[str, str]]:
    """A customer's CRM rows: "sep" a separate cross_brand_sharing consent, "other" a consent
    for model training only, "gone" granted separately then withdrawn, None no record."""
    base = {"cid": cid, "purpose": "cross_brand_sharing", "guardian": "no",
            "born": "1990-01-01"}
    if state is None:
        return []
    if state == "other":
        return [{**base, "purpose": "model_training", "what": "opt-in",
                 "at": "2026-03-01T10:00:00Z", "sep": "no"}]
    rows = [{**base, "what": "opt-in", "at": "2026-03-01T10:00:00Z", "sep": "yes"}]
    if state == "gone":
        rows.append({**base, "what": "opt-out", "at": "2026-04-01T10:00:00Z", "sep": "yes"})
    return rows


def brand_node(db: Database, tmp_path: Path, api_url: str, brand: str, *, layout: str,
               suffixes: dict[str, str | None], aggregates: dict[str, str] | None = None
               ) -> BrandNode:
    """A registered brand whose customers `<initial>-<suffix>` have phone `layout` filled
    with the suffix and the consent `suffixes` names (`consent_rows`), imported through the
    API; `aggregates` names the node's DP aggregate datasets."""
    with db.unit_of_work() as s:
        SubjectService(s).register_brand(brand, brand.title(), "pipl", actor="test")
        token = TokenService(s).create(f"brand:{brand}", principal=f"{brand}-node")
    path = init_node(tmp_path / brand, brand_id=brand, jurisdiction="pipl", api=api_url,
                     token=token, aggregates=aggregates)
    silo = tmp_path / brand / "silo"
    customers = pd.DataFrame({"customer_id": [f"{brand[:1]}-{s}" for s in suffixes],
                              "phone": [layout.format(s) for s in suffixes]})
    customers.to_csv(silo / "customers.csv", index=False)
    pd.DataFrame({"customer_id": customers["customer_id"], "order_id": range(len(customers))}
                 ).to_csv(silo / "orders.csv", index=False)
    (silo / "column_map.yaml").write_text(yaml.safe_dump({
        "brand_id": brand, "jurisdiction": "pipl",
        "customers": {"file": "customers.csv", "key": "customer_id",
                      "columns": {"customer_id": "customer_id", "phone": "phone"}},
        "orders": {"file": "orders.csv", "key": "customer_id",
                   "columns": {"customer_id": "customer_id", "order_id": "purchase_history"}}}))
    (tmp_path / brand / "crm" / "consent_map.yaml").write_text(json.dumps(MAP))
    rows = [r for s, state in suffixes.items() for r in consent_rows(f"{brand[:1]}-{s}", state)]
    pd.DataFrame(rows).to_csv(tmp_path / f"{brand}-crm.csv", index=False)
    node = load_node(str(path))
    import_consents(node, source=str(tmp_path / f"{brand}-crm.csv"))
    return node

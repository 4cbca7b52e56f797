from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from compliance.consent.schemas import ConsentImportItem
from compliance.consent.service import ConsentService
from compliance.database import Database
from compliance.policy.engine import PolicyEngine
from compliance.policy.loader import load_policies
from compliance.subjects.service import SubjectService
from federation.brand.consent_import import ConsentExportMap, prepare_import
from federation.data.silo import SYNTHETIC_CUSTOMER_MAP, load_silo, write_silo
from federation.data.synthetic import BrandSilo, BrandSpec
from federation.demo import CONSENT_MAP, crm_export
from federation.gate.prepare import prepare_churn
from privacy.pseudonym import Pseudonymizer

AS_OF = datetime(2026, 9, 30, tzinfo=UTC)
SPEC = BrandSpec("test-brand", "Test", "pipl", 5, 1.0, 5, 1.0, 0.1)
GRANT = datetime(2025, 2, 1, tzinfo=UTC)


def _silo() -> BrandSilo:
    people = {  # customer -> (birth date, consent events)
        "A-granted": ("1990-01-01", [("grant", GRANT)]),
        "B-withdrawn": ("1985-05-05", [("grant", GRANT),
                                       ("withdraw", datetime(2026, 3, 1, tzinfo=UTC))]),
        # A child's own consent is not valid (PIPL Art. 31): the CRM records it as refused.
        "C-minor": ("2014-06-01", [("refuse", GRANT)]),
        "D-minor-guardian": ("2014-07-01", [("grant", GRANT)]),
        "E-no-record": ("1970-01-01", []),
        "F-withdrawn-later": ("1980-01-01", [("grant", GRANT),
                                             ("withdraw", datetime(2026, 10, 5, tzinfo=UTC))]),
    }
    customers = pd.DataFrame([{
        "customer_id": cid, "name": "王小明", "phone": "13812345678",
        "email": "x@example.com", "resident_id": "11010119900307387X", "bank_card": "",
        "address": "北京市东城区景山前街4号", "city": "Beijing", "gender": "M", "birth_date": born,
        "signup_date": "2025-01-15"} for cid, (born, _) in people.items()])
    orders = pd.DataFrame([{
        "customer_id": cid, "order_id": f"{cid}-{k}", "ordered_at": f"2025-{k + 2:02d}-10",
        "item_id": f"I{k}", "amount": 10.0 + k} for cid in people for k in range(6)])
    consents = pd.DataFrame([(cid, "model_training", a, False, cid.startswith("D"), t)
                             for cid, (_, evs) in people.items() for a, t in evs],
                            columns=["customer_id", "purpose", "action", "separate",
                                     "by_guardian", "occurred_at"])
    return BrandSilo(SPEC, customers, orders, consents, {"D-minor-guardian"})


@pytest.mark.integration
def test_withdrawn_minor_and_unconsented_never_reach_training(db: Database,
                                                              tmp_path: Path) -> None:
    policies = load_policies()
    silo = _silo()
    write_silo(silo, tmp_path / SPEC.brand_id)
    pseudo = Pseudonymizer.from_key_dir(tmp_path / "keys")
    export = tmp_path / "crm.csv"
    crm_export(silo).to_csv(export, index=False)
    prepared = prepare_import(str(export), ConsentExportMap.model_validate(
        yaml.safe_load(CONSENT_MAP)), brand_id=SPEC.brand_id, jurisdiction="pipl",
        policies=policies, pseudonym=pseudo, today=AS_OF.date())
    with db.unit_of_work() as s:  # what the coordinator records of the brand's import
        SubjectService(s).register_brand(SPEC.brand_id, SPEC.name, "pipl", actor="admin")
        ConsentService(s).record_many([ConsentImportItem.model_validate(e)
                                       for e in prepared.events], actor="test",
                                      policies=policies)
        snapshot = ConsentService(s).snapshot(SPEC.brand_id, "model_training", AS_OF)
    p = prepare_churn(load_silo(tmp_path / SPEC.brand_id, policies), snapshot=snapshot,
                      engine=PolicyEngine(policies), purpose="model_training",
                      cutoff=date(2025, 6, 1), horizon_days=90, seed=1, pseudonym=pseudo,
                      test_fraction=0.0)
    allowed = {pseudo(c) for c in ("A-granted", "D-minor-guardian", "F-withdrawn-later")}
    assert p.gate.kept_keys == allowed
    # E has no consent record at all: it never reached the coordinator, so it is no subject
    assert p.gate.excluded_minor == 1 and p.gate.excluded_no_consent == 2
    assert p.gate.excluded_by_rule == {"pipl.art31.minor_without_guardian": 1,
                                       "pipl.art15.withdrawn": 1, "pipl.art13.no_consent": 1}
    assert len(p.data.x_train) == 3  # one feature row per allowed subject, nobody else
    identifying = {c for c, cat in SYNTHETIC_CUSTOMER_MAP.items()
                   if policies.categories[cat].identifying and c != "customer_id"}
    assert identifying <= set(p.gate.dropped_columns)
    assert not identifying & set(p.gate.kept.columns)
    assert set(p.gate.kept["customer_id"]) == allowed  # pseudonyms, not raw ids
    assert "birth_date" in p.categories and "phone" not in p.categories


@pytest.mark.unit
def test_gate_rejects_column_map_mismatch(tmp_path: Path) -> None:
    from compliance.errors import InputError

    silo = _silo()
    write_silo(silo, tmp_path / "b")
    (tmp_path / "b" / "customers.csv").write_text("customer_id,name\nA,x\n")
    with pytest.raises(InputError, match=r"customers\.csv:1: columns named in the column map"):
        load_silo(tmp_path / "b", load_policies())


@pytest.mark.unit
def test_detected_pii_column_is_dropped_even_if_mapped_harmless() -> None:
    from federation.data.column_map import TableMap
    from federation.gate.rules import select_columns

    engine = PolicyEngine(load_policies())
    table = TableMap(file="c.csv", key="customer_id",
                     columns={"customer_id": "customer_id", "city": "city", "note": "city"})
    kept, dropped = select_columns(table, engine, "model_training", {"note": "PHONE_NUMBER"})
    assert kept == ["customer_id", "city"]
    assert dropped == {"note": "PII detected (PHONE_NUMBER)"}

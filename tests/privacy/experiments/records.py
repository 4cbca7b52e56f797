"""An experiment and a supervised reveal, as rows for the anchor tests (issue 25)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from compliance.audit.service import AuditLog
from compliance.database import Database, utcnow
from compliance.subjects.models import Subject
from privacy.aggregates.models import DpDataset
from privacy.experiments.models import Experiment
from privacy.masking.models import PiiReveal


def operations_records(db: Database) -> None:
    now = utcnow()
    with db.unit_of_work() as s:
        ds = s.scalars(select(DpDataset.id)).first()
        subj = s.scalars(select(Subject.id)).first()
        assert ds is not None and subj is not None
        s.add(Experiment(key="anchor-exp", requester="service:growth", dataset_id=ds,
                         assignment_col="city", arms=["a", "b"], control_arm="a",
                         conversion_col="converted", spend_col=None, starts_at=now,
                         ends_at=now + timedelta(days=7), registered_by="test"))
        brand = s.get_one(Subject, subj).brand_id
        s.add(PiiReveal(brand_id=brand, subject_id=subj, field="phone", reason="anchor test",
                        requested_by="brand:x:supervisor#1", requested_by_id=1,
                        expires_at=now + timedelta(minutes=30)))
        s.flush()
        AuditLog(s).record("test.operations", actor="test")

"""Every ORM model, imported so that Alembic's metadata sees the whole schema."""

from compliance.audit.models import AuditEvent
from compliance.consent.models import ConsentEvent
from compliance.database import Base
from compliance.subjects.models import Brand, Subject
from federation.lineage.models import ModelVersion, TrainingRun, TrainingRunBrand

__all__ = [
    "AuditEvent",
    "Base",
    "Brand",
    "ConsentEvent",
    "ModelVersion",
    "Subject",
    "TrainingRun",
    "TrainingRunBrand",
]

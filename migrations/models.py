"""Every ORM model, imported so that Alembic's metadata sees the whole schema."""

from compliance.audit.checkpoint_models import AuditCheckpoint, AuditWitness
from compliance.audit.models import AuditEvent, AuditSubject
from compliance.consent.models import ConsentEvent
from compliance.database import Base
from compliance.governance.models import (
    CrossBorderTransfer,
    ImpactAssessment,
    Incident,
    TransferMechanism,
)
from compliance.requests.models import SubjectRequest
from compliance.subjects.models import Brand, Subject
from compliance.tokens.models import ApiToken, PrincipalRecord
from federation.coordinator.lineage.models import (
    ModelVersion,
    TrainingRound,
    TrainingRun,
    TrainingRunBrand,
)
from privacy.aggregates.models import BudgetLedger, DpDataset, DpRelease, PrivacyBudget
from privacy.experiments.models import Experiment
from privacy.masking.models import PiiReveal
from privacy.overlap.models import OverlapRun
from privacy.vault.models import SubjectKey, SubjectPii

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditSubject",
    "AuditWitness",
    "Base",
    "Brand",
    "BudgetLedger",
    "ConsentEvent",
    "CrossBorderTransfer",
    "DpDataset",
    "DpRelease",
    "Experiment",
    "ImpactAssessment",
    "OverlapRun",
    "Incident",
    "ModelVersion",
    "PiiReveal",
    "PrincipalRecord",
    "PrivacyBudget",
    "Subject",
    "SubjectKey",
    "SubjectPii",
    "SubjectRequest",
    "TrainingRound",
    "TrainingRun",
    "TrainingRunBrand",
    "TransferMechanism",
]

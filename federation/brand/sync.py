"""A brand node brings its own consent records up to date from the coordinator's API: all its
subjects (their minor/guardian flags can change) and every consent event it has not seen
(events are append-only). Done before each gate and each serving run, so that a withdrawal the
coordinator recorded (a data-subject request, say) reaches the brand's gate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from federation.brand.api_client import CoordinatorClient
from federation.brand.consent_store import ConsentStore


@dataclass(frozen=True)
class SyncReport:
    subjects: int
    new_events: int
    events: int


def sync_consents(client: CoordinatorClient, store: ConsentStore, brand_id: str) -> SyncReport:
    # Events first: every subject an event names is then in the subject list fetched after.
    new = store.add_events(
        (int(e["id"]), e["subject"], e["purpose"], e["action"], bool(e["separate"]),
         datetime.fromisoformat(e["occurred_at"]))
        for e in client.consent_events(brand_id, after_id=store.last_event_id()))
    subjects = store.replace_subjects(
        (s["subject"], bool(s["is_minor"]), bool(s["guardian_consent"]))
        for s in client.subjects(brand_id))
    return SyncReport(subjects, new, store.counts()[1])

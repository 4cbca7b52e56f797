"""`/metrics` in the Prometheus text format (prometheus-client), for the service operator.

Two kinds of series. What happens in this process is counted as it happens, by one ASGI
middleware: requests by route *template* (`/v1/requests/{request_id}`, never the path a
client sent: paths carry pseudonyms and ids) and status, and their latency. What the
database holds is read at scrape time by one collector, so every process and the command
line agree: consent events, the audit chain's length and last signed checkpoint, privacy
budget spend, training runs, rounds and round failures. Labels are route templates, status
codes, brand ids, requester and dataset names, model names: never personal data.

The last audit verification is the one this process ran (`GET /v1/audit/verify`); with
several workers each reports its own, like the request counters.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from api.jsonlog import log_request
from api.limits import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from compliance.audit.chain import VerifyResult
    from compliance.database import Database

UNMATCHED = "unmatched"  # no route: a 404 for a made-up path must not become a new series


class Metrics:
    """This app's series, in a registry of its own (one per `create_app`, so tests that build
    many apps never collide in prometheus-client's global registry)."""

    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("comity_http_requests", "HTTP requests by route template, "
                                "method and status", ["route", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("comity_http_request_duration_seconds", "HTTP request "
                                 "latency by route template and method", ["route", "method"],
                                 registry=self.registry)
        self.verifications = Counter("comity_audit_verifications", "Audit chain "
                                     "verifications run by this process, by result",
                                     ["result"], registry=self.registry)
        self.last_verified_at = Gauge("comity_audit_last_verification_timestamp_seconds",
                                      "When this process last verified the audit chain "
                                      "(Unix time)", registry=self.registry)
        self.last_verified_ok = Gauge("comity_audit_last_verification_ok", "1 if the last "
                                      "verification found the chain intact, else 0",
                                      registry=self.registry)
        self.last_verified_events = Gauge("comity_audit_last_verification_events", "Events "
                                          "the last verification checked",
                                          registry=self.registry)
        self.registry.register(DatabaseCollector(db))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def observe_verification(self, result: VerifyResult) -> None:
        self.verifications.labels("verified" if result.verified else "broken").inc()
        self.last_verified_at.set(time.time())
        self.last_verified_ok.set(1 if result.verified else 0)
        self.last_verified_events.set(result.events)


def route_template(scope: Scope) -> str:
    """The template of the route that served the request, as the router left it in scope."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class MetricsMiddleware:
    """Counts and times every HTTP request; with JSON logs on, logs one line for each."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before it answers
        start = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - start
            route, method = route_template(scope), str(scope.get("method", ""))
            self.metrics.observe_request(route, method, status, seconds)
            log_request(method, route, status, seconds)


class DatabaseCollector(Collector):
    """Series read from the compliance database at each scrape: a few indexed aggregates.
    A database that does not answer gives `comity_database_up 0`, never a failed scrape."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only: nothing to query at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("comity_database_up", "1 if the compliance database answered "
                               "this scrape")
        try:
            families = list(self._read())
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> Iterator[Metric]:
        from compliance.audit.checkpoint_models import AuditCheckpoint
        from compliance.audit.models import AuditEvent
        from compliance.consent.models import ConsentEvent
        from federation.coordinator.lineage.models import TrainingRound, TrainingRun
        from privacy.aggregates.models import BudgetLedger, DpDataset

        with self.db.reading() as s:
            consents = CounterMetricFamily("comity_consent_events", "Consent events recorded "
                                           "(append-only), by brand and action",
                                           labels=["brand", "action"])
            for brand, action, n in s.execute(
                    select(ConsentEvent.brand_id, ConsentEvent.action, func.count())
                    .group_by(ConsentEvent.brand_id, ConsentEvent.action)):
                consents.add_metric([brand, action], n)
            yield consents

            length = s.scalar(select(func.max(AuditEvent.seq))) or 0
            yield _gauge("comity_audit_chain_length", "Events in the hash-chained audit log "
                         "(its head seq)", length)
            cp = s.execute(select(AuditCheckpoint.last_seq, AuditCheckpoint.created_at)
                           .order_by(AuditCheckpoint.last_seq.desc()).limit(1)).first()
            yield _gauge("comity_audit_checkpoint_seq", "Last event covered by a signed "
                         "checkpoint (0: none yet)", cp[0] if cp else 0)
            if cp:
                yield _gauge("comity_audit_checkpoint_timestamp_seconds", "When the last "
                             "checkpoint was signed (Unix time)", cp[1].timestamp())

            spent = CounterMetricFamily("comity_privacy_budget_spent_epsilon", "Epsilon spent "
                                        "on DP releases, all periods, by requester and dataset",
                                        labels=["requester", "dataset"])
            releases = CounterMetricFamily("comity_dp_releases", "DP aggregate releases, by "
                                           "requester and dataset",
                                           labels=["requester", "dataset"])
            refusals = CounterMetricFamily("comity_dp_refusals", "DP queries refused for "
                                           "budget, by requester and dataset",
                                           labels=["requester", "dataset"])
            for requester, dataset, micro, n_rel, n_ref in s.execute(
                    select(BudgetLedger.requester, DpDataset.name,
                           func.sum(BudgetLedger.spent_micro), func.sum(BudgetLedger.releases),
                           func.sum(BudgetLedger.refusals))
                    .join(DpDataset, DpDataset.id == BudgetLedger.dataset_id)
                    .group_by(BudgetLedger.requester, DpDataset.name)):
                spent.add_metric([requester, dataset], int(micro or 0) / 1_000_000)
                releases.add_metric([requester, dataset], int(n_rel or 0))
                refusals.add_metric([requester, dataset], int(n_ref or 0))
            yield from (spent, releases, refusals)

            runs = GaugeMetricFamily("comity_training_runs", "Training runs by model and "
                                     "status (running, completed, failed)",
                                     labels=["model", "status"])
            for model, status, n in s.execute(
                    select(TrainingRun.model, TrainingRun.status, func.count())
                    .group_by(TrainingRun.model, TrainingRun.status)):
                runs.add_metric([model, status], n)
            yield runs
            rounds = CounterMetricFamily("comity_training_rounds", "Federated rounds "
                                         "completed, by model", labels=["model"])
            attempts = CounterMetricFamily("comity_training_round_attempts", "Training "
                                           "attempts of the completed rounds, retries "
                                           "included, by model", labels=["model"])
            for model, n, tries in s.execute(
                    select(TrainingRun.model, func.count(), func.sum(TrainingRound.attempts))
                    .join(TrainingRun, TrainingRun.id == TrainingRound.run_id)
                    .group_by(TrainingRun.model)):
                rounds.add_metric([model], n)
                attempts.add_metric([model], int(tries or 0))
            yield from (rounds, attempts)
            failed = s.scalar(select(func.count()).where(
                AuditEvent.action == "training.round_failed")) or 0
            failures = CounterMetricFamily("comity_training_round_failures", "Round attempts "
                                           "that failed (audited as training.round_failed)")
            failures.add_metric([], failed)
            yield failures


def _gauge(name: str, doc: str, value: Any) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))

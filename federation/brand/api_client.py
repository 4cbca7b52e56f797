"""The brand node's client of the coordinator's API: every call carries the brand's own token,
TLS is verified against the alliance's CA when the config names one, and an error comes back
as a `ComityError` naming what failed (never a raw value). This and Flower messages are the
only ways a brand node talks to the coordinator."""

from __future__ import annotations

import base64
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from compliance.errors import ComityError, NotFoundError
from federation.brand.config import BrandConfig
from federation.release import ModelRelease

PAGE = 1000
BATCH = 5000  # consent events per import request (one transaction at the coordinator)
TIMEOUT_S = 60.0
BUSY_RETRIES = 5  # a 503 from the coordinator recorded nothing: retried after Retry-After
MAX_RETRY_AFTER_S = 5.0


def _retry_after(r: httpx.Response) -> float:
    """Retry-After in seconds (RFC 9110 §10.2.3; an HTTP date or garbage counts as 1 s),
    capped so that a misconfigured server cannot stall a brand's sync."""
    value = r.headers.get("retry-after", "1")
    seconds = float(value) if value.isdigit() else 1.0
    return min(seconds, MAX_RETRY_AFTER_S)


class CoordinatorUnreachable(ComityError):
    status_code = 503


class CoordinatorClient:
    def __init__(self, base_url: str, token: str, *, root_certificates: str | None = None,
                 timeout: float = TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout,
            verify=(ssl.create_default_context(cafile=root_certificates) if root_certificates
                    else True),
            headers={"Authorization": f"Bearer {token}"})

    @classmethod
    def for_node(cls, config: BrandConfig) -> CoordinatorClient:
        root = config.coordinator.root_certificates
        return cls(config.coordinator.api, config.token(),
                   root_certificates=str(root) if root else None)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CoordinatorClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        for attempt in range(BUSY_RETRIES + 1):
            try:
                r = self._http.request(method, path, **kw)
            except httpx.TransportError as exc:
                raise CoordinatorUnreachable(f"the coordinator's API at {self.base_url} is "
                                             f"not reachable ({type(exc).__name__})") from None
            if r.status_code != 503 or attempt == BUSY_RETRIES:
                break
            # The coordinator refuses excess before doing anything (api/serving.py), so the
            # same request, Idempotency-Keys included, is safe to send again (RFC 9110 §15.6.4).
            time.sleep(_retry_after(r))
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail", r.text[:200])
            except ValueError:
                detail = r.text[:200]
            error = NotFoundError if r.status_code == 404 else ComityError
            raise error(f"{method} {path}: {r.status_code} {detail}",
                        status_code=r.status_code)
        return r.json() if r.content else None

    # ---------------------------------------------------------------- consent records

    def subjects(self, brand_id: str) -> Iterator[dict[str, Any]]:
        after = 0
        while True:
            page = self._call("GET", f"/v1/brands/{brand_id}/subjects",
                              params={"after_id": after, "limit": PAGE})
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1]["id"]

    def consent_events(self, brand_id: str, after_id: int = 0) -> Iterator[dict[str, Any]]:
        after = after_id
        while True:
            page = self._call("GET", "/v1/consents", params={
                "brand_id": brand_id, "after_id": after, "limit": PAGE})
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1]["id"]

    def import_consents(self, events: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Send events in batches, each one transaction at the coordinator and each event
        with its own idempotency key, so that a re-import (or a retry after a lost batch)
        adds nothing twice. Returns how many were new and how many replayed."""
        totals = {"created": 0, "replayed": 0}
        for start in range(0, len(events), BATCH):
            out = self._call("POST", "/v1/consents/batch",
                             json={"events": list(events[start:start + BATCH])})
            totals["created"] += int(out["created"])
            totals["replayed"] += int(out["replayed"])
        return totals

    # ---------------------------------------------------------------- models

    def latest_model(self, model: str) -> ModelRelease:
        """The newest version of `model` this brand may serve, its weights checked against
        the SHA-256 lineage recorded."""
        out = self._call("GET", f"/v1/models/{model}/latest")
        return ModelRelease.from_blob(
            model=out["model"], version=int(out["version"]),
            weights_sha256=out["weights_sha256"], blob=base64.b64decode(out["weights"]),
            config=dict(out["config"]), final=dict(out["final"]))

    def report_serving(self, model: str, version: int, summary: Mapping[str, Any]) -> None:
        """Counts of one serving run (no identifiers), for the coordinator's audit log."""
        self._call("POST", f"/v1/models/{model}/versions/{version}/servings", json=summary)

    # ---------------------------------------------------------------- audit log witness

    def tree_head(self) -> dict[str, Any]:
        """The coordinator's newest signed tree head (checked by the caller, not here)."""
        return dict(self._call("GET", "/v1/audit/checkpoints/latest"))

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        """Both signed heads and the RFC 6962 consistency proof between tree sizes."""
        return dict(self._call("GET", "/v1/audit/consistency",
                               params={"from": first, "to": second}))

    def witness(self, tree_size: int, tree_root: str) -> dict[str, Any]:
        """Tell the coordinator this brand verified the head (recorded in its audit log)."""
        return dict(self._call("POST", "/v1/audit/witness",
                               json={"tree_size": tree_size, "tree_root": tree_root}))

"""Errors of federated work, all in the `ComityError` family so the CLI and the API report
them the same way: what failed, never a raw value."""

from __future__ import annotations

from compliance.errors import ComityError


class FederationError(ComityError):
    """A run or round could not complete: a brand missing, a gate mismatch, a plan that
    cannot be met."""

    status_code = 502


class RoundFailed(FederationError):
    """A round that produced no aggregate (SecAgg+ halted, every update lost): retried."""


class StatisticsFailed(RoundFailed):
    """A release of DP item statistics produced no sum in every attempt it was given."""


class WireViolation(FederationError):
    """A reply carried something other than model tensors and aggregate metrics."""

    status_code = 451

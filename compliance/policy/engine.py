"""The one decision function. Pure: a PolicySet and a request in, a Decision out.

Minimum necessary collection (PIPL Art. 6) is checked first from purposes.yaml, then the
jurisdiction's rules are tried by descending priority; the first rule whose `match` holds
and whose `unless` does not decides. No rule means deny (privacy by default, GDPR Art. 25).
"""

from __future__ import annotations

from compliance.errors import InputError
from compliance.policy.schemas import Condition, Decision, DecisionRequest, PolicySet


def _holds(cond: Condition, req: DecisionRequest, lawful_basis: str, sensitive: bool) -> bool:
    role = req.requester.split(":", 1)[0]
    checks = (
        cond.purpose_in is None or req.purpose in cond.purpose_in,
        cond.consent_in is None or req.consent in cond.consent_in,
        cond.subject_is_minor is None or req.subject.is_minor == cond.subject_is_minor,
        cond.guardian_consent is None or req.subject.guardian_consent == cond.guardian_consent,
        cond.sensitive_data is None or sensitive == cond.sensitive_data,
        cond.lawful_basis_in is None or lawful_basis in cond.lawful_basis_in,
        cond.requester_role_in is None or role in cond.requester_role_in,
        cond.categories_any is None or bool(req.data_categories & set(cond.categories_any)),
    )
    return all(checks)


class PolicyEngine:
    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self._ordered = {
            key: sorted(j.rules, key=lambda r: -r.priority)
            for key, j in policies.jurisdictions.items()
        }

    def decide(self, req: DecisionRequest) -> Decision:
        purpose = self.policies.purpose(req.purpose)
        if req.jurisdiction not in self._ordered:
            known = ", ".join(sorted(self._ordered))
            raise InputError(f"unknown jurisdiction (known: {known})", column="jurisdiction")
        unknown = req.data_categories - set(self.policies.categories)
        if unknown:
            raise InputError(f"unknown data categories: {', '.join(sorted(unknown))}")
        excess = req.data_categories - purpose.allowed_categories
        if excess:
            return Decision(
                allowed=False,
                rule_id=f"purpose.{purpose.key}.minimum_necessary",
                source=f"{purpose.source}; PIPL Art. 6",
                explanation=(
                    f"categories {', '.join(sorted(excess))} are not needed for "
                    f"'{purpose.key}' (minimum necessary)"
                ),
            )
        sensitive = any(self.policies.categories[c].sensitive for c in req.data_categories)
        for rule in self._ordered[req.jurisdiction]:
            if not _holds(rule.match, req, purpose.lawful_basis, sensitive):
                continue
            unless = rule.unless
            if unless is not None and _holds(unless, req, purpose.lawful_basis, sensitive):
                continue
            return Decision(
                allowed=rule.decision == "allow",
                rule_id=rule.key,
                source=rule.source,
                explanation=rule.explanation,
            )
        return Decision(False, f"{req.jurisdiction}.default_deny", req.jurisdiction,
                        "no rule allows this processing")

    def minor_age(self, jurisdiction: str) -> int:
        return self.policies.jurisdictions[jurisdiction].minor_age

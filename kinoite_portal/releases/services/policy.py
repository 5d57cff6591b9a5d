"""The approval policy of DESIGN.md section 6, as a pure function: which conditions are met, which are missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Vote:
    """One recorded vote, reduced to what the policy needs."""

    user_id: int
    username: str
    decision: str  # "approve" or "reject"
    is_approver: bool


@dataclass(frozen=True)
class PolicyInput:
    """Everything the policy looks at; built from a Promotion by ``approvals.policy_input``."""

    kind: str  # "promote" or "rollback"
    requester_id: int | None
    votes: Sequence[Vote]
    days_in_source: float
    source_stage: str
    required_approvals: int = 1
    min_days: int = 7
    expedited: bool = False
    expedite_reason: str = ""
    expedite_extra_approvals: int = 1
    rollback_required_approvals: int = 1


@dataclass(frozen=True)
class PolicyResult:
    """The outcome: ``satisfied`` means the promotion may be queued; ``rejected`` means it is over."""

    met: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    approvals_counted: int = 0
    approvals_needed: int = 1
    rejected: bool = False
    # The minimum-time rule: how long the commit has been in the source stage, of how many days, and whether the
    # rule holds (met by time, by an expedite with a reason, or not applicable).
    days_in_source: float = 0.0
    min_days: int = 0
    time_met: bool = True

    @property
    def days_remaining(self) -> float:
        """Return how many days the minimum-time rule still waits (0 once it holds)."""
        return 0.0 if self.time_met else max(0.0, self.min_days - self.days_in_source)

    @property
    def satisfied(self) -> bool:
        return not self.rejected and not self.missing

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "satisfied": self.satisfied}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def policy_evaluate(data: PolicyInput) -> PolicyResult:
    """Return which conditions of the policy are met and which are missing, in words shown on the approval page."""
    met: list[str] = []
    missing: list[str] = []
    rollback = data.kind == "rollback"

    rejects = [v for v in data.votes if v.decision == "reject" and v.is_approver and v.user_id != data.requester_id]
    if rejects:
        names = ", ".join(v.username for v in rejects)
        missing.append(f"Rejected by {names}: a single reject ends this request; file a new one.")

    if rollback:
        needed = data.rollback_required_approvals
    else:
        needed = data.required_approvals + (data.expedite_extra_approvals if data.expedited else 0)
    needed = max(needed, 1)  # four eyes: somebody other than the requester always has to agree
    counted = [v for v in data.votes if v.decision == "approve" and v.is_approver and v.user_id != data.requester_id]
    own = [v for v in data.votes if v.decision == "approve" and v.user_id == data.requester_id]
    why = " (rollback policy)" if rollback else " (expedited: one more than usual)" if data.expedited else ""
    if len(counted) >= needed:
        names = ", ".join(v.username for v in counted)
        met.append(f"{_plural(len(counted), 'approval')} of {needed} needed{why} from the approvers group: {names}.")
    else:
        missing.append(
            f"{_plural(len(counted), 'approval')} of {needed} needed{why} from the approvers group "
            "(the requester's own vote never counts)."
        )
    if own:
        met.append("The requester's own vote was not counted (four eyes).")

    if rollback:
        met.append("Rollbacks have no minimum time in a stage.")
    elif data.min_days <= 0:
        met.append(f"No minimum time in {data.source_stage} is configured.")
    elif data.days_in_source >= data.min_days:
        met.append(f"In {data.source_stage} for {data.days_in_source:.1f} days (minimum {data.min_days}).")
    elif data.expedited:
        if data.expedite_reason.strip():
            met.append(
                f"In {data.source_stage} for only {data.days_in_source:.1f} of {data.min_days} days, "
                f"but expedited: “{data.expedite_reason.strip()}”."
            )
        else:
            missing.append("Expedited without a written reason: a reason is required to skip the minimum time.")
    else:
        missing.append(
            f"In {data.source_stage} for {data.days_in_source:.1f} of {data.min_days} days; "
            "wait, or file an expedited request with a reason."
        )
    time_met = (
        rollback
        or data.min_days <= 0
        or data.days_in_source >= data.min_days
        or (data.expedited and bool(data.expedite_reason.strip()))
    )
    return PolicyResult(
        met=met,
        missing=missing,
        approvals_counted=len(counted),
        approvals_needed=needed,
        rejected=bool(rejects),
        days_in_source=data.days_in_source,
        min_days=0 if rollback else data.min_days,
        time_met=time_met,
    )

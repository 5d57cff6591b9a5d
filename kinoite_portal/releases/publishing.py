"""Which refs a promotion moves and binds, and what it tells other apps once it published.

Plain stages publish a commit under the treefile's ref. Apps above releases may change that without releases
importing them: ``PORTAL_PUBLISH_PLAN_PROVIDER`` names a function ``(*, stage, ref, kind) -> PublishPlan`` (the
rollout rings move a ring's ref first and bind the commit to every ring's ref), and ``promotion_published`` is sent,
inside the transaction that records the publication, once a promotion or rollback has moved its ref.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.dispatch import Signal
from django.utils.module_loading import import_string

from kinoite_portal.releases.models import Stage

# Sent with ``promotion`` (its ``published_commit`` set) once a run recorded its ref move.
promotion_published = Signal()


@dataclass(frozen=True)
class PublishPlan:
    """The ref a run moves, and the further refs the published commit must be bound to."""

    move_ref: str
    bind_refs: list[str] = field(default_factory=list)


def plain_publish_plan(*, stage: Stage, ref: str, kind: str) -> PublishPlan:
    """Move ``ref`` itself and bind nothing else: a stage without rings."""
    return PublishPlan(move_ref=ref)


def publish_plan(*, stage: Stage, ref: str, kind: str) -> PublishPlan:
    """Return the plan of the function ``PORTAL_PUBLISH_PLAN_PROVIDER`` names (the plain plan when it names none)."""
    name = getattr(settings, "PORTAL_PUBLISH_PLAN_PROVIDER", "")
    plan_for: Callable[..., PublishPlan] = import_string(name) if name else plain_publish_plan
    return plan_for(stage=stage, ref=ref, kind=kind)

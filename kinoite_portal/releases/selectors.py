"""Reads for the release pages, with a query count that does not grow with the data."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.releases.models import Compose, Promotion, Ref, Stage


@dataclass
class StageOverview:
    stage: Stage
    refs: list[Ref] = field(default_factory=list)


def stage_overview_list() -> list[StageOverview]:
    """Return every stage with its refs and their current commits."""
    overviews = {stage.pk: StageOverview(stage=stage) for stage in Stage.objects.order_by("order")}
    for ref in Ref.objects.select_related("head").order_by("name"):
        if ref.stage_id in overviews:
            overviews[ref.stage_id].refs.append(ref)
    return list(overviews.values())


def compose_list(*, limit: int = 100) -> QuerySet[Compose]:
    """Return the latest composes with what the list page shows."""
    return Compose.objects.select_related("treefile", "revision", "commit", "requested_by").defer("log")[:limit]


def promotion_list(*, limit: int = 100) -> QuerySet[Promotion]:
    """Return the latest promotions with what the list page shows."""
    return Promotion.objects.select_related(
        "commit", "published_commit", "source_stage", "target_stage", "requested_by"
    ).defer("log")[:limit]


def audit_event_list(*, action: str = "", object_type: str = "", limit: int = 200) -> QuerySet[AuditEvent]:
    """Return the latest audit events, optionally filtered."""
    events = AuditEvent.objects.select_related("actor")
    if action:
        events = events.filter(action=action)
    if object_type:
        events = events.filter(object_type=object_type)
    return events[:limit]

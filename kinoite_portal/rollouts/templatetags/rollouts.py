"""Template helpers of the rollout pages: durations, and a promotion's adoption for its page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template

from kinoite_portal.fleet.selectors import image_adoption
from kinoite_portal.rollouts.models import Rollout

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """Render a gate's duration the way people say it: "24 h", "90 min", "3 d", "1 d 12 h"."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(parts) or "0 min"


@register.simple_tag
def promotion_adoption(promotion: Any) -> dict[str, Any]:
    """Return how many hosts run what ``promotion`` published, since when, and its rollout through the rings."""
    commit = promotion.published_commit or promotion.commit
    return {
        "commit": commit,
        "adoption": image_adoption(checksum=commit.checksum),
        "rollout": Rollout.objects.filter(promotion=promotion).only("pk", "state").first(),
    }

"""Template helpers shared by every page: times in the viewer's zone, state badges, short checksums."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

register = template.Library()

STATE_TONES = {
    "queued": "info",
    "requested": "info",
    "approved": "info",
    "running": "busy",
    "succeeded": "ok",
    "unchanged": "muted",
    "failed": "bad",
    "rejected": "bad",
    "cancelled": "muted",
    "green": "ok",
    "red": "bad",
    "unknown": "muted",
}


@register.simple_tag
def when(value: datetime | None) -> str:
    """Render a time as "3 days ago"; static/js/portal.js rewrites the title into the viewer's time zone."""
    if value is None:
        return format_html('<span class="muted">{}</span>', "never")
    now = timezone.now()
    span = (timesince(now, value, depth=1) if value > now else timesince(value, now, depth=1)).replace("\xa0", " ")
    relative = f"in {span}" if value > now else f"{span} ago"
    if span.startswith("0 "):
        relative = "just now"  # timesince says "0 minutes" for anything under a minute
    utc = value.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>', utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M"), relative
    )


@register.simple_tag
def state_badge(state: str, label: str | None = None) -> str:
    """Render a state as a word on a colored badge (never color alone)."""
    tone = STATE_TONES.get(state, "muted")
    return format_html('<span class="badge badge-{}" data-state="{}">{}</span>', tone, state, label or state)


@register.filter
def short(checksum: str | None, length: int = 10) -> str:
    """Return the first characters of a checksum."""
    return (checksum or "")[:length]

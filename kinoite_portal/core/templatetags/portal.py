"""Template helpers shared by every page: times in the viewer's zone, state badges, short checksums."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from django import template
from django.template import Context
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
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
    relative = _relative(value, timezone.now())
    utc = value.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>', utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M"), relative
    )


@register.simple_tag
def state_badge(state: str, label: str | None = None) -> str:
    """Render a state as a word on a colored badge (never color alone)."""
    tone = STATE_TONES.get(state, "muted")
    return format_html('<span class="badge badge-{}" data-state="{}">{}</span>', tone, state, label or state)


# One length for every checksum on every page; the full value is in the title and behind the copy button.
SHORT_CHECKSUM = 12


@register.filter
def short(checksum: str | None) -> str:
    """Return the first SHORT_CHECKSUM characters of a checksum."""
    return (checksum or "")[:SHORT_CHECKSUM]


@register.simple_tag
def checksum(value: str | None, link: bool | Collection[str] = True) -> str:
    """Render a checksum short, with the full value on hover, a link to its commit page and a copy button.

    ``link`` is a bool, or the set of checksums that have a commit page (hosts report commits the portal never saw).
    """
    if not value:
        return format_html('<span class="muted">{}</span>', "—")
    if link is True or (not isinstance(link, bool) and value in link):
        text = format_html(
            '<a class="mono" href="{}" title="{}">{}</a>',
            reverse("releases:commit_detail", args=[value]),
            value,
            short(value),
        )
    else:
        text = format_html('<span class="mono" title="{}">{}</span>', value, short(value))
    return format_html(
        '<span class="checksum">{}<button type="button" class="copy" data-copy="{}" '
        'aria-label="Copy the full checksum" title="Copy the full checksum">copy</button></span>',
        text,
        value,
    )


def _relative(value: datetime, now: datetime) -> str:
    span = (timesince(now, value, depth=1) if value > now else timesince(value, now, depth=1)).replace("\xa0", " ")
    if span.startswith("0 "):
        return "just now"  # timesince says "0 minutes" for anything under a minute
    return f"in {span}" if value > now else f"{span} ago"


@register.simple_tag
def at(value: datetime | str | None) -> str:
    """Render a time as an absolute date and time with the relative time beside it on hover.

    Takes a datetime or an ISO 8601 string (as rpm-ostree reports deployment dates); static/js/portal.js rewrites the
    text into the viewer's time zone.
    """
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return format_html('<span class="muted">{}</span>', "—")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    utc = value.astimezone(UTC)
    return format_html(
        '<time class="absolute" datetime="{}" title="{}">{} UTC</time>',
        utc.isoformat(),
        _relative(value, timezone.now()),
        utc.strftime("%Y-%m-%d %H:%M"),
    )


@register.simple_tag(takes_context=True)
def page_url(context: Context, number: int) -> str:
    """Return the current URL's query string with ``page`` set to ``number`` (the other filters kept)."""
    query = context["request"].GET.copy()
    query["page"] = str(number)
    return f"?{query.urlencode()}"


def _span(seconds: float) -> str:
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


@register.simple_tag
def elapsed(start: datetime | None, end: datetime | None = None) -> str:
    """Render how long a job ran ("2 min 5 s"); while it runs (no ``end``) static/js/portal.js keeps counting."""
    if start is None:
        return ""
    if end is not None:
        return format_html('<span class="elapsed">{}</span>', _span((end - start).total_seconds()))
    return format_html(
        '<span class="elapsed" data-since="{}">{}</span>',
        start.astimezone(UTC).isoformat(),
        _span((timezone.now() - start).total_seconds()),
    )


@register.filter
def get_item(mapping: Mapping[Any, Any] | None, key: Any) -> Any:
    """Return ``mapping[key]``, or None (templates cannot index a dict by a variable)."""
    return (mapping or {}).get(key)

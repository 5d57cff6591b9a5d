"""htmx on django-htmx's own helpers: the request type its middleware fills in, and the polled partial."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django_htmx.http import HttpResponseStopPolling, trigger_client_event
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request after django-htmx's middleware: ``request.htmx`` is truthy for htmx requests (views type it so)."""

    htmx: HtmxDetails


def render_poll(
    request: HttpRequest, template: str, context: dict[str, Any], *, finished: bool, event: str = ""
) -> HttpResponse:
    """Render a partial that htmx polls; once the job has ``finished`` it answers 286 (stop polling) and
    triggers ``event`` so the rest of the page refreshes once."""
    content = render_to_string(template, context, request)
    if not finished:
        return HttpResponse(content)
    response = HttpResponseStopPolling(content)
    return trigger_client_event(response, event) if event else response

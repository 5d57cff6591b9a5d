"""Deliver Django messages to htmx requests as an ``HX-Trigger`` event, for every view at once."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse


class HtmxMessagesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False):  # set by django-htmx's middleware, which runs before this one
            return response
        # A redirect carries its messages on to the page it leads to.
        if 300 <= response.status_code < 400 or "HX-Redirect" in response.headers:
            return response
        messages = [{"message": str(m.message), "tags": m.tags} for m in get_messages(request)]
        if not messages:
            return response
        existing = response.headers.get("HX-Trigger", "")
        try:
            triggers = json.loads(existing) if existing else {}
        except json.JSONDecodeError:
            triggers = {name.strip(): None for name in existing.split(",") if name.strip()}
        triggers["messages"] = messages
        response.headers["HX-Trigger"] = json.dumps(triggers)
        return response

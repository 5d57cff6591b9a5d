"""Middleware of every page: messages for htmx requests, and the security headers of every response."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class SecurityHeadersMiddleware:
    """Send the Content-Security-Policy on every response, and keep signed-in pages out of every cache.

    The policy (``PORTAL_CONTENT_SECURITY_POLICY``) allows scripts, styles and images from the portal only: no
    inline script, no ``style=`` attribute, nothing from elsewhere, so injected markup can neither run nor restyle
    a page. ``private, no-store``: a page a signed-in user saw (package lists, host names, audit entries) is not
    kept by the browser's back-forward cache or disk or by a shared proxy, where the next user of the machine could
    read it after sign-out.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = settings.PORTAL_CONTENT_SECURITY_POLICY
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response


class HtmxMessagesMiddleware:
    """Deliver Django messages to htmx requests as an ``HX-Trigger`` event, for every view at once."""

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

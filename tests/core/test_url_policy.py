"""Every view either needs a signed-in user with a permission, or is on a short, reviewed list of public ones."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

# Public on purpose: sign-in, probes, what desktops and automation fetch (token-authenticated or harmless).
PUBLIC = {
    "login/",
    "healthz",
    "livez",
    "favicon.ico",
    "releases/stages/<slug:name>/key.asc",
    "fleet/agent/<str:name>",
    "repo/<slug:stage>/<path:path>",
    "sigstore/<slug:stage>/<path:path>",
    "^static/(?P<path>.*)$",
    "api/v1/promotions",
    "api/v1/promotions/<int:pk>",
    "api/v1/promotions/<int:pk>/approve",
    "api/v1/promotions/<int:pk>/reject",
    "api/v1/rollbacks",
    "api/v1/enroll",
    "api/v1/checkin",
    "api/v1/rings",
    "api/v1/rollouts",
    "api/v1/rollouts/<int:pk>",
    "api/v1/rollouts/<int:pk>/pause",
    "api/v1/rollouts/<int:pk>/resume",
    "api/v1/rollouts/<int:pk>/advance",
    "api/v1/rollouts/<int:pk>/halt",
    "api/v1/rollouts/<int:pk>/rollback",
}
# Exempt from CSRF only because they authenticate by bearer token and never read the session cookie.
CSRF_EXEMPT = {route for route in PUBLIC if route.startswith("api/v1/")}
# Views every signed-in user may reach whatever their groups.
ANY_SIGNED_IN = {"logout/"}
SAMPLE_ARGS = {"pk": "1", "slug": "finance", "name": "kinoite", "checksum": "a" * 64, "stage": "prod", "path": "config"}


def routes() -> Iterator[tuple[str, Any]]:
    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, Any]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern).startswith("admin/"):
                    continue  # Django's admin checks staff and model permissions itself
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    yield from walk(get_resolver().url_patterns, "")


def sample_url(route: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_ARGS[m.group(1)], route)


ALL_ROUTES = dict(routes())
PRIVATE = sorted(set(ALL_ROUTES) - PUBLIC - ANY_SIGNED_IN)


def test_only_the_reviewed_views_are_public() -> None:
    public = {route for route, view in ALL_ROUTES.items() if getattr(view, "login_required", True) is False}

    assert public == PUBLIC


def test_only_the_token_apis_are_exempt_from_csrf() -> None:
    exempt = {route for route, view in ALL_ROUTES.items() if getattr(view, "csrf_exempt", False)}

    assert exempt == CSRF_EXEMPT


@pytest.mark.parametrize("route", PRIVATE)
def test_a_signed_in_user_without_a_role_gets_nothing_from_private_views(db: None, route: str) -> None:
    client = Client()
    client.force_login(User.objects.create_user("nobody", password="pw"))
    url = sample_url(route)

    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code in {403, 404, 405}, f"{method.upper()} {url} answered {response.status_code}"


@pytest.mark.parametrize("route", PRIVATE)
def test_anonymous_visitors_are_sent_to_sign_in(db: None, route: str) -> None:
    response = Client().get(sample_url(route))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")

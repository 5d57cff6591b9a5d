from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kinoite_portal.core.health import portal_health


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Report database, Redis and worker state; 503 when any is down, for load balancers.

    States only for anonymous callers; signed-in staff also get worker names, the database vendor and errors.
    """
    health = portal_health(detail=request.user.is_staff)
    return JsonResponse(health, status=200 if health["status"] == "ok" else 503)


@login_not_required
@never_cache
@require_GET
def livez(request: HttpRequest) -> HttpResponse:
    """Answer 200 "ok" while the process serves requests; touches no database (a liveness probe, unlike healthz)."""
    return HttpResponse("ok", content_type="text/plain")

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kinoite_portal.fleet import selectors


@require_GET
@permission_required("fleet.view_rollout", raise_exception=True)
def rollout(request: HttpRequest) -> HttpResponse:
    departments = selectors.department_host_counts(request.user)
    return render(request, "fleet/rollout.html", {"section": "rollout", "departments": departments})

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kinoite_portal.releases import selectors


@require_GET
@permission_required("core.view_auditevent", raise_exception=True)
def audit(request: HttpRequest) -> HttpResponse:
    events = selectors.audit_event_list(
        action=request.GET.get("action", ""), object_type=request.GET.get("object_type", "")
    )
    return render(request, "releases/audit.html", {"section": "audit", "events": events})

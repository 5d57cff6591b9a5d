from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kinoite_portal.releases import selectors

PAGE_SIZE = 50


@require_GET
@permission_required("core.view_auditevent", raise_exception=True)
def audit(request: HttpRequest) -> HttpResponse:
    filters = {key: request.GET.get(key, "").strip()[:150] for key in ("actor", "action", "object_type", "object_id")}
    events = selectors.audit_event_list(**filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    # The pager links carry the filters: encoded, so a value with "&", "+" or "#" survives the round trip.
    query = urlencode({k: v for k, v in filters.items() if v})
    context = {"section": "audit", "events": page.object_list, "page": page, "filters": filters, "query": query}
    return render(request, "releases/audit.html", context)

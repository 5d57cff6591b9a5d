from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kinoite_portal.releases import selectors


@require_GET
@permission_required("releases.view_compose", raise_exception=True)
def compose_list(request: HttpRequest) -> HttpResponse:
    return render(request, "releases/compose_list.html", {"section": "composes", "composes": selectors.compose_list()})

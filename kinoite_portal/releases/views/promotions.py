from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kinoite_portal.releases import selectors


@require_GET
@permission_required("releases.view_promotion", raise_exception=True)
def promotion_list(request: HttpRequest) -> HttpResponse:
    context = {"section": "promotions", "promotions": selectors.promotion_list()}
    return render(request, "releases/promotion_list.html", context)

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from kinoite_portal.releases import selectors


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Show, per treefile, dev and prod history side by side; people without release rights go to the rollout."""
    if not request.user.has_perm("releases.view_commit"):
        if request.user.has_perm("fleet.view_rollout"):
            return redirect("fleet:rollout")
        return render(request, "core/no_role.html", status=403)
    stages = selectors.stage_list()
    context = {
        "section": "dashboard",
        "stages": stages,
        "lanes": selectors.dashboard_lanes(stages),
        "busy": selectors.any_job_running(),
        "unsigned_stages": selectors.unsigned_published_stages(stages),
    }
    if getattr(request, "htmx", False) and request.GET.get("part") == "lanes":
        return render(request, "releases/_dashboard_lanes.html", context)
    return render(request, "releases/dashboard.html", context)

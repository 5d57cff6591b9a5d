from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET, require_safe

from kinoite_portal.core.htmx import HtmxHttpRequest
from kinoite_portal.fleet import client_setup as client_setup_commands
from kinoite_portal.fleet import selectors
from kinoite_portal.fleet.models import CheckIn
from kinoite_portal.fleet.sections import RolloutSection
from kinoite_portal.releases.models import Stage

HOSTS_PER_PAGE = 50
AGENT_DIR = Path(settings.BASE_DIR) / "deploy" / "client"
AGENT_FILES = {
    "install.sh": "text/x-shellscript",
    "kinoite-portal-agent": "text/x-python",
    "kinoite-portal-agent.service": "text/plain",
    "kinoite-portal-agent.timer": "text/plain",
    "README.md": "text/markdown",
}


def rollout_sections(request: HttpRequest) -> list[RolloutSection]:
    """Return the sections that higher layers (the rollout rings) add to the rollout page, in setting order.

    Each entry of ``PORTAL_ROLLOUT_SECTIONS`` names a function taking the request and returning a section or None:
    the fleet knows nothing of rings, and rings know the fleet.
    """
    sections = (import_string(path)(request) for path in settings.PORTAL_ROLLOUT_SECTIONS)
    return [section for section in sections if section is not None]


@require_GET
@permission_required("fleet.view_rollout", raise_exception=True)
def rollout(request: HttpRequest) -> HttpResponse:
    overview = selectors.rollout_overview(request.user)
    sees_all = request.user.has_perm("fleet.view_all_departments")
    history = selectors.adoption_history(
        department_ids=None if sees_all else [row.department.pk for row in overview.rows if row.department]
    )
    return render(
        request,
        "fleet/rollout.html",
        {
            "section": "rollout",
            "overview": overview,
            "sections": rollout_sections(request),
            "adoption_chart": history.chart(),
            "categories": selectors.CATEGORIES,
            "silent_days": settings.PORTAL_SILENT_AFTER_DAYS,
        },
    )


@require_GET
@permission_required("fleet.view_rollout", raise_exception=True)
def department(request: HttpRequest, slug: str) -> HttpResponse:
    dept = get_object_or_404(selectors.visible_departments(request.user), slug=slug)
    rows, total = selectors.department_rollout(dept)
    history = selectors.adoption_history(department_ids=[dept.pk])
    return render(
        request,
        "fleet/department.html",
        {
            "section": "rollout",
            "department": dept,
            "adoption_chart": history.chart(),
            "rows": rows,
            "total": total,
            "categories": selectors.CATEGORIES,
            "silent_days": settings.PORTAL_SILENT_AFTER_DAYS,
        },
    )


@require_GET
@permission_required("fleet.view_rollout", raise_exception=True)
def host_list(request: HtmxHttpRequest) -> HttpResponse:
    filters = selectors.HostFilters(
        department=request.GET.get("department", "")[:100],
        category=request.GET.get("category", "")[:20],
        search=request.GET.get("q", "")[:100],
        unsigned=request.GET.get("unsigned") == "1",
    )
    page = Paginator(selectors.host_list(request.user, filters), HOSTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "section": "rollout",
        "page": page,
        "filters": filters,
        "departments": selectors.visible_departments(request.user),
        "categories": selectors.CATEGORIES,
        "category_labels": dict(selectors.CATEGORIES),
        "known_commits": selectors.linkable_commits(
            request.user, [c for h in page.object_list for c in (h.booted_checksum, h.staged_checksum)]
        ),
    }
    # The search box asks for the results partial only; a plain request (or no JavaScript) gets the page.
    return render(request, "fleet/_host_results.html" if request.htmx else "fleet/host_list.html", context)


@require_GET
@permission_required("fleet.view_rollout", raise_exception=True)
def host_detail(request: HttpRequest, pk: int) -> HttpResponse:
    host = selectors.host_detail(request.user, pk)
    if host is None:
        raise Http404("No such host.")
    checkins = list(
        CheckIn.objects.filter(host=host).only("received_at", "booted_checksum", "booted_version", "remote_addr")[
            : settings.PORTAL_CHECKIN_HISTORY
        ]
    )
    shown = [host.booted_checksum, *(d.get("image_checksum", "") for d in host.deployments or [])]
    return render(
        request,
        "fleet/host_detail.html",
        {
            "section": "rollout",
            "host": host,
            "checkins": checkins,
            "known_commits": selectors.linkable_commits(request.user, shown + [c.booted_checksum for c in checkins]),
            "category_labels": dict(selectors.CATEGORIES),
        },
    )


@require_GET
@permission_required("fleet.view_host", raise_exception=True)
def client_setup(request: HttpRequest) -> HttpResponse:
    stages = list(Stage.objects.select_related("signing_key").order_by("-order"))  # prod first: most desktops
    return render(
        request,
        "fleet/client_setup.html",
        {
            "section": "client_setup",
            "setups": client_setup_commands.stage_setups(stages),
            "agent_commands": client_setup_commands.agent_commands(),
            "portal_url": client_setup_commands.portal_url(),
            "public_url_mismatch": client_setup_commands.public_url_mismatch(request.build_absolute_uri("/")),
            "seen_at": request.build_absolute_uri("/").rstrip("/"),
            "can_enroll": request.user.has_perm("fleet.add_enrollmenttoken"),
            "agent_files": list(AGENT_FILES),
        },
    )


@login_not_required  # the agent's files are public: the installer fetches them on a desktop that has no session
@require_safe
def agent_file(request: HttpRequest, name: str) -> HttpResponse:
    if name not in AGENT_FILES:
        raise Http404("Not an agent file.")
    response = HttpResponse((AGENT_DIR / name).read_bytes(), content_type=AGENT_FILES[name])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response

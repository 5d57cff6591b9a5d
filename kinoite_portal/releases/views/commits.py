from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from kinoite_portal.releases import selectors
from kinoite_portal.releases.models import Commit


@require_GET
@permission_required("releases.view_commit", raise_exception=True)
def commit_detail(request: HttpRequest, checksum: str) -> HttpResponse:
    commit = get_object_or_404(Commit.objects.select_related("recommit_of", "restores"), checksum=checksum)
    page = selectors.commit_page(commit)
    may_request = request.user.has_perm("releases.request_promotion")
    context = {
        "section": "dashboard",
        "commit": commit,
        "evidence": page.evidence,
        "ref_updates": page.ref_updates,
        "target": page.target,
        "open_promotion": page.open_promotion,
        "parent_known": bool(commit.parent_checksum)
        and Commit.objects.filter(checksum=commit.parent_checksum).exists(),
        "can_request": may_request and page.promotable,
        "can_roll_back": may_request and page.restorable,
        "treefile_choices": selectors.treefile_choices(commit, page.ref_updates) if page.promotable else [],
        "metadata_items": sorted((k, v) for k, v in (commit.metadata or {}).items() if k != "rpmostree.rpmdb.pkglist"),
    }
    return render(request, "releases/commit_detail.html", context)

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from kinoite_portal.releases import promotion_selectors
from kinoite_portal.releases.models import Commit, Promotion, Ref, RefUpdate, Stage


@require_GET
@permission_required("releases.view_commit", raise_exception=True)
def commit_detail(request: HttpRequest, checksum: str) -> HttpResponse:
    commit = get_object_or_404(Commit.objects.select_related("recommit_of", "restores"), checksum=checksum)
    stages = list(Stage.objects.order_by("order"))
    target = stages[-1] if stages else None
    refs = list(RefUpdate.objects.filter(commit=commit).select_related("ref", "ref__stage").order_by("moved_at"))
    treefile = promotion_selectors.treefile_of(commit, refs)
    prod_head = promotion_selectors.target_head_for(treefile, target)
    evidence = promotion_selectors.commit_evidence(commit, against=prod_head)
    in_target = [u for u in refs if target is not None and u.ref.stage_id == target.pk]
    in_source = [u for u in refs if target is not None and u.ref.stage_id != target.pk]
    open_promotion = Promotion.objects.filter(commit=commit, state__in=Promotion.OPEN_STATES).first()
    head_ref = Ref.objects.filter(stage=target, name=treefile.published_ref).first() if treefile and target else None
    newer_than_prod = prod_head is None or (
        commit.timestamp >= prod_head.timestamp and commit.content_checksum != prod_head.content_checksum
    )
    context = {
        "section": "dashboard",
        "commit": commit,
        "evidence": evidence,
        "ref_updates": refs,
        "prod_head": prod_head,
        "target": target,
        "treefile": treefile,
        "compose_link_ok": promotion_selectors.compose_link_ok(),
        "open_promotion": open_promotion,
        "can_request": bool(in_source)
        and not in_target
        and newer_than_prod
        and open_promotion is None
        and request.user.has_perm("releases.request_promotion"),
        "can_roll_back": bool(in_target)
        and head_ref is not None
        and prod_head is not None
        and prod_head.content_checksum != commit.content_checksum
        and request.user.has_perm("releases.request_promotion"),
        "metadata_items": sorted((k, v) for k, v in (commit.metadata or {}).items() if k != "rpmostree.rpmdb.pkglist"),
    }
    return render(request, "releases/commit_detail.html", context)

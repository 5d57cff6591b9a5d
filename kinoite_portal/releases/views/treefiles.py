from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from kinoite_portal.releases.models import Compose, RefUpdate, Stage, Treefile
from kinoite_portal.releases.services.treefiles import revision_diff


@require_GET
@permission_required("releases.view_treefile", raise_exception=True)
def treefile_detail(request: HttpRequest, name: str) -> HttpResponse:
    treefile = get_object_or_404(Treefile, name=name)
    # A Containerfile's images live in the first OCI stage, a treefile's commits in the first ostree stage.
    dev = Stage.objects.filter(kind=treefile.stage_kind).order_by("order").first()
    history = (
        RefUpdate.objects.filter(ref__stage=dev, ref__name=treefile.ref)
        .select_related("commit", "compose")
        .defer("commit__metadata", "commit__packages", "commit__body")
        .order_by("-moved_at", "-id")[:50]
        if dev is not None
        else []
    )
    context = {
        "section": "composes",
        "treefile": treefile,
        "dev": dev,
        "history": history,
        "revisions": treefile.revisions.select_related("author").order_by("-number")[:20],
        "composes": Compose.objects.filter(treefile=treefile).select_related("revision", "commit").defer("log")[:10],
    }
    return render(request, "releases/treefile_detail.html", context)


@require_GET
@permission_required("releases.view_treefilerevision", raise_exception=True)
def treefile_revisions(request: HttpRequest, name: str) -> HttpResponse:
    """Show a readable unified diff between two revisions (default: the latest against the one before)."""
    treefile = get_object_or_404(Treefile, name=name)
    revisions = list(treefile.revisions.select_related("author").order_by("-number"))
    if not revisions:
        raise Http404("no revisions")
    by_number = {r.number: r for r in revisions}
    try:
        new_number = int(request.GET.get("to") or revisions[0].number)
        old_default = new_number - 1
        old_number = int(request.GET.get("from") or old_default)
    except ValueError:
        raise Http404("revision numbers are integers") from None
    new = by_number.get(new_number)
    if new is None:
        raise Http404(f"no revision {new_number}")
    old = by_number.get(old_number)
    context = {
        "section": "composes",
        "treefile": treefile,
        "revisions": revisions,
        "old": old,
        "new": new,
        "diff": revision_diff(old=old, new=new),
    }
    return render(request, "releases/treefile_revisions.html", context)

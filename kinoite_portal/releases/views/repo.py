from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe

from kinoite_portal.releases.models import Stage
from kinoite_portal.releases.repo_serving import repo_file_response, signature_file_response
from kinoite_portal.releases.services.stages import stage_sigstore


@login_not_required
@require_safe
def repo_file(request: HttpRequest, stage: str, path: str) -> HttpResponseBase:
    """Serve a stage's repo read-only (first-run mode only; production serves repos from Apache or nginx)."""
    if not settings.PORTAL_SERVE_FILES:
        raise Http404("Repos are served by the web server in front of the portal.")
    stage_obj = get_object_or_404(Stage, name=stage)
    return repo_file_response(request, stage_obj.repo_dir, path)


@login_not_required
@require_safe
def sigstore_file(request: HttpRequest, stage: str, path: str) -> HttpResponseBase:
    """Serve one simple-signing signature of an OCI stage's images, read-only, to the desktops that verify them.

    Served in every mode (a production web server may serve the same folder instead, PORTAL_SIGSTORE_ROOT/<stage>):
    a signature is public, and desktops cannot verify an update without it.
    """
    stage_obj = get_object_or_404(Stage, name=stage, kind=Stage.Kind.OCI)
    return signature_file_response(stage_sigstore(stage_obj), path)

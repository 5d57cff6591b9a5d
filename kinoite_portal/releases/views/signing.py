from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe

from kinoite_portal.releases.models import Stage


@login_not_required
@require_safe
def stage_public_key(request: HttpRequest, name: str) -> HttpResponse:
    """Serve a stage's public signing key for clients (`ostree remote add --gpg-import=key.asc`); never a secret."""
    stage = get_object_or_404(Stage.objects.select_related("signing_key"), name=name)
    if stage.signing_key is None:
        raise Http404("This stage does not sign its commits.")
    response = HttpResponse(stage.signing_key.public_key, content_type="application/pgp-keys")
    response["Content-Disposition"] = f'attachment; filename="{stage.name}-key.asc"'
    return response

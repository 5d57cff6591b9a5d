"""Creating stages and the repos they own."""

from __future__ import annotations

from django.db import transaction

from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Stage


@transaction.atomic
def stage_ensure(*, name: str, order: int, repo_path: str, public_url: str = "", **policy: int) -> Stage:
    """Return the stage called ``name``, creating it and initialising its archive repo when missing."""
    stage, _ = Stage.objects.get_or_create(
        name=name, defaults={"order": order, "repo_path": repo_path, "public_url": public_url, **policy}
    )
    Repo.init(stage.repo_dir, mode="archive")
    return stage

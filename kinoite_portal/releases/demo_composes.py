"""Demo composes: two local composes of the seed treefile, so dev has history with real package upgrades."""

from __future__ import annotations

from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Compose, Treefile
from kinoite_portal.releases.services.composes import compose_request, compose_run, compose_stage
from kinoite_portal.releases.services.treefiles import treefile_save


def seed_composes(*, treefile_name: str = "kinoite") -> list[Compose]:
    """Run two composes in this process (no worker needed); skip when the dev ref already has commits."""
    treefile = Treefile.objects.get(name=treefile_name)
    repo = Repo(compose_stage().repo_dir)
    if repo.exists() and repo.resolve(treefile.ref) is not None:
        return []
    first = compose_run(
        compose_id=compose_request(treefile=treefile, trigger="demo", backend="local", enqueue=False).pk
    )
    packages = list(treefile.content.get("packages", []))
    if "flatpak" not in packages:
        treefile = treefile_save(
            name=treefile.name,
            content={**treefile.content, "packages": [*packages, "flatpak"]},
            published_ref=treefile.published_ref,
            description=treefile.description,
            schedule=treefile.schedule,
            comment="Add flatpak; picks up the next update wave of the demo catalogue",
        )
    second = compose_run(
        compose_id=compose_request(treefile=treefile, trigger="demo", backend="local", enqueue=False).pk
    )
    return [first, second]

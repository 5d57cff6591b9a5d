"""Fixtures for the releases tests: real dev and prod stages with real repos, and the seed treefile."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from kinoite_portal.releases.models import Stage, Treefile
from kinoite_portal.releases.services.stages import stage_ensure
from kinoite_portal.releases.services.treefiles import treefile_save

REF_DEV = "fedora/x86_64/kinoite/dev"
REF_STABLE = "fedora/x86_64/kinoite/stable"


@pytest.fixture
def stages(db: None, tmp_path: Path) -> dict[str, Stage]:
    """Create the dev (order 0) and prod (order 1) stages, each with an archive repo under tmp_path."""
    return {
        "dev": stage_ensure(name="dev", order=0, repo_path=str(tmp_path / "repos" / "dev")),
        "prod": stage_ensure(name="prod", order=1, repo_path=str(tmp_path / "repos" / "prod")),
    }


def treefile_content(**changes: Any) -> dict[str, Any]:
    """Return the seed article's treefile (as the demo ships it), with ``changes`` applied."""
    from kinoite_portal.releases.demo import SEED_TREEFILE

    content = copy.deepcopy(SEED_TREEFILE)
    content.update(changes)
    return content


@pytest.fixture
def treefile(stages: dict[str, Stage]) -> Treefile:
    """Save the seed treefile ``kinoite`` (dev ref .../dev, published as .../stable) as revision 1."""
    return treefile_save(
        name="kinoite", content=treefile_content(), published_ref=REF_STABLE, description="Kinoite desktop"
    )

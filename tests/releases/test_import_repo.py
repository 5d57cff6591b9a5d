"""manage.py import_repo STAGE: commits and refs made by hand come into the database."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Commit, RefUpdate
from kinoite_portal.releases.services.composes import compose_request, compose_run
from tests.releases.conftest import REF_DEV

pytestmark = pytest.mark.django_db(transaction=True)


def hand_commit(repo: Repo, ref: str, tmp_path, label: str) -> str:
    tree = tmp_path / f"tree-{label}"
    (tree / "usr/lib").mkdir(parents=True)
    (tree / "usr/lib/os-release").write_text(f"VERSION_ID=41\nLABEL={label}\n")
    return repo.commit(
        branch=ref, tree_dir=tree, subject=f"by hand {label}", metadata={"version": f"41.20241201.{label}"}
    )


def test_it_imports_hand_made_commits_and_reports_refs_moved_outside_the_portal(
    treefile, stages, tmp_path, capsys
) -> None:
    composed = compose_run(compose_id=compose_request(treefile=treefile, enqueue=False).pk).commit
    repo = Repo(stages["dev"].repo_dir)
    moved = hand_commit(repo, REF_DEV, tmp_path, "7")
    other = hand_commit(repo, "test/x86_64/scratch", tmp_path, "1")

    call_command("import_repo", "dev")

    out = capsys.readouterr().out
    assert "dev: imported 2 commits" in out
    assert f"MOVED outside the portal: {REF_DEV} {composed.checksum} -> {moved}" in out
    assert f"new ref       test/x86_64/scratch -> {other}" in out
    external = RefUpdate.objects.get(commit__checksum=moved)
    assert (external.source, external.previous_commit) == ("external", composed)
    assert RefUpdate.objects.get(commit__checksum=other).source == "import"
    assert Commit.objects.get(checksum=moved).parent_checksum == composed.checksum

    call_command("import_repo", "dev")
    again = capsys.readouterr().out
    assert "dev: imported 0 commits" in again
    assert "MOVED" not in again
    assert RefUpdate.objects.count() == 3


def test_an_unknown_stage_is_refused(stages) -> None:
    with pytest.raises(CommandError, match="no stage 'qa' \\(stages: dev, prod\\)"):
        call_command("import_repo", "qa")

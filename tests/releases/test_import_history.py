"""Every commit a ref ever held is known after import_repo, so the one that soaked can be promoted; where the refs
do not say which treefile a commit belongs to, the requester picks it (command and page)."""

from __future__ import annotations

import time

import pytest
from django.core.management import CommandError, call_command

from kinoite_portal.ostree import Repo, build_tree
from kinoite_portal.releases.models import Promotion, RefUpdate
from kinoite_portal.releases.services.repo_import import repo_import
from kinoite_portal.releases.services.treefiles import treefile_save
from kinoite_portal.schedules import BEAT_SCHEDULE
from tests.releases.conftest import KERNEL, REF_DEV, demo_packages, treefile_content

pytestmark = pytest.mark.django_db


def compose_by_hand(repo: Repo, treefile, tmp_path, version: str, bash: str) -> str:
    """Commit a bootable tree to the dev ref with ostree alone, as an admin composing by hand does."""
    tree = tmp_path / "trees" / version
    build_tree(tree, treefile=treefile.content, packages=demo_packages(bash), version=version, kernel_version=KERNEL)
    time.sleep(1.05)  # commit timestamps have one-second resolution
    return repo.commit(
        branch=REF_DEV,
        tree_dir=tree,
        subject=f"Kinoite {version}",
        metadata={"version": version, "rpmostree.rpmdb.pkglist": demo_packages(bash), "ostree.linux": KERNEL},
    )


@pytest.fixture
def two_by_hand(treefile, stages, tmp_path) -> tuple[str, str]:
    repo = Repo(stages["dev"].repo_dir)
    older = compose_by_hand(repo, treefile, tmp_path, "41.20261120.0", "5.2.31")
    newer = compose_by_hand(repo, treefile, tmp_path, "41.20261127.0", "5.2.32")
    return older, newer


def test_the_older_of_two_hand_made_composes_can_be_promoted_after_import(
    two_by_hand, stages, release_engineer, capsys
) -> None:
    older, newer = two_by_hand

    report = repo_import(stage=stages["dev"])

    assert report.history_recorded == 1
    assert list(
        RefUpdate.objects.filter(ref__name=REF_DEV).order_by("id").values_list("commit__checksum", "source")
    ) == [
        (older, "import"),
        (newer, "import"),
    ]
    call_command("promote", older, "--as", release_engineer.username)
    promotion = Promotion.objects.get()
    assert (promotion.commit.checksum, promotion.target_ref) == (older, "fedora/x86_64/kinoite/stable")
    assert repo_import(stage=stages["dev"]).history_recorded == 0  # a second run records nothing twice
    assert RefUpdate.objects.filter(ref__name=REF_DEV).count() == 2


def test_a_commit_on_the_refs_of_two_treefiles_needs_the_treefile_named(
    two_by_hand, treefile, stages, release_engineer
) -> None:
    older, _ = two_by_hand
    treefile_save(
        name="kinoite-lab", content=treefile_content(), published_ref="fedora/x86_64/kinoite/lab", description="Lab"
    )
    repo_import(stage=stages["dev"])

    with pytest.raises(CommandError, match=r"on the refs of several treefiles \(kinoite, kinoite-lab\); say which"):
        call_command("promote", older, "--as", release_engineer.username)
    with pytest.raises(CommandError, match="no treefile 'kinoite-labs' \\(treefiles: kinoite, kinoite-lab\\)"):
        call_command("promote", older, "--as", release_engineer.username, "--treefile", "kinoite-labs")
    assert not Promotion.objects.exists()

    call_command("promote", older, "--as", release_engineer.username, "--treefile", "kinoite-lab")
    assert Promotion.objects.get().target_ref == "fedora/x86_64/kinoite/lab"


def test_the_commit_page_lets_the_requester_pick_the_treefile_when_the_refs_name_several(
    two_by_hand, treefile, stages, release_engineer, client_for
) -> None:
    older, _ = two_by_hand
    treefile_save(
        name="kinoite-lab", content=treefile_content(), published_ref="fedora/x86_64/kinoite/lab", description="Lab"
    )
    repo_import(stage=stages["dev"])
    client = client_for(release_engineer)

    page = client.get(f"/releases/commits/{older}/").content.decode()
    assert '<select id="req-treefile" name="treefile" required>' in page
    assert '<option value="kinoite-lab">kinoite-lab → fedora/x86_64/kinoite/lab</option>' in page

    refused = client.post(f"/releases/commits/{older}/promote", {"treefile": "nope"}, follow=True)
    assert "There is no treefile &#x27;nope&#x27;; nothing was requested." in refused.content.decode()
    assert not Promotion.objects.exists()

    client.post(f"/releases/commits/{older}/promote", {"treefile": "kinoite-lab", "comment": "soaked a week"})
    assert Promotion.objects.get().target_ref == "fedora/x86_64/kinoite/lab"


def test_the_hourly_reconciliation_records_the_history_and_skips_a_repo_a_job_is_writing(two_by_hand, stages) -> None:
    from kinoite_portal.releases.services.repo_import import repo_reconcile_all
    from kinoite_portal.releases.services.stages import stage_repo_lock

    with stage_repo_lock(stages["dev"], timeout=1):
        busy = repo_reconcile_all()
    assert [report.stage for report in busy] == ["prod"]
    assert not RefUpdate.objects.filter(ref__stage=stages["dev"]).exists()

    reports = {report.stage: report for report in repo_reconcile_all()}

    assert reports["dev"].history_recorded == 1
    assert RefUpdate.objects.filter(ref__stage=stages["dev"], commit__checksum=two_by_hand[0]).exists()
    assert BEAT_SCHEDULE["releases.repo_reconcile_all"] == {"task": "releases.repo_reconcile_all", "schedule": 3600.0}

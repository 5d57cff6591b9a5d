"""Package and file changes are counted once, in the worker, and stored; no page view runs ostree or opens a repo."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from kinoite_portal.ostree import libostree
from kinoite_portal.releases.models import Promotion, TreeDiff
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.diffs import tree_diff_compute
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run
from kinoite_portal.releases.services.rollbacks import rollback_request
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


class RanOstree(AssertionError):
    """Raised by the GUARD (not a mock of ostree) when a page view starts a process or opens a repo."""


def promote(commit, release_engineer, approver) -> Promotion:  # type: ignore[no-untyped-def]
    requested = promotion_request(user=release_engineer, checksum=commit.checksum)
    done = promotion_run(promotion_id=approval_grant(user=approver, promotion=requested).pk)
    assert done.state == Promotion.State.SUCCEEDED, done.log
    return done


def test_it_counts_the_changes_against_prod_when_a_dev_commit_lands_and_never_again(
    stages, make_dev_commit, release_engineer, approver, monkeypatch
):
    v1 = make_dev_commit("41.20261125.0", extra=("htop",))
    promote(v1, release_engineer, approver)
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37", extra=("git",))

    stored = TreeDiff.objects.get(old_tree=v1.content_checksum, new_tree=v2.content_checksum)
    assert (stored.files_added, stored.files_removed, stored.files_modified) == (2, 2, 2)
    assert stored.package_changes["added"] == [["git", 0, "1.0", "1.fc41", "x86_64"]]
    assert stored.package_changes["removed"] == [["htop", 0, "1.0", "1.fc41", "x86_64"]]
    assert stored.package_changes["upgraded"] == [
        [["bash", 0, "5.2.32", "1.fc41", "x86_64"], ["bash", 0, "5.2.37", "1.fc41", "x86_64"]]
    ]
    assert stored.error == ""

    with monkeypatch.context() as patch:
        patch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("counted twice"))
        assert tree_diff_compute(old=v1, new=v2).pk == stored.pk


def test_no_page_view_runs_ostree_or_opens_a_repo(
    stages, make_dev_commit, release_engineer, approver, client_for, monkeypatch
):
    v1 = make_dev_commit("41.20261125.0", extra=("htop",))
    promote(v1, release_engineer, approver)
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37", extra=("git",))
    requested = promotion_request(user=release_engineer, checksum=v2.checksum)
    client = client_for(approver)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RanOstree(f"a page view ran {args[:1]!r}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(libostree, "open_repo", refuse)
    pages = {
        "/": "41.20261126.0",
        f"/releases/commits/{v2.checksum}/": "2 added",
        f"/releases/commits/{v1.checksum}/": v1.content_checksum,
        f"/releases/promotions/{requested.pk}/": "2 added",
        "/releases/promotions/": "41.20261126.0",
    }
    for url, expected in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert expected in response.content.decode(), url


def test_a_page_says_when_the_files_are_not_counted_yet_and_still_shows_the_packages(
    stages, make_dev_commit, release_engineer, approver, client_for, monkeypatch
):
    v1 = make_dev_commit("41.20261125.0", extra=("htop",))
    promote(v1, release_engineer, approver)
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37", extra=("git",))
    TreeDiff.objects.all().delete()
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("a page view started a process"))

    page = client_for(approver).get(f"/releases/commits/{v2.checksum}/").content.decode()

    assert "has not counted the changed files yet" in page
    assert "5.2.37-1.fc41" in page
    assert "2 added" not in page


@pytest.mark.slow
def test_a_real_worker_counts_what_a_rollback_request_will_show(
    stages, make_dev_commit, release_engineer, approver, client_for, celery_worker, monkeypatch
):
    def approve_and_wait(promotion: Promotion) -> None:
        approval_grant(user=approver, promotion=promotion)
        wait_until(
            lambda: Promotion.objects.get(pk=promotion.pk).state in Promotion.FINISHED_STATES,
            timeout=90,
            message=f"promotion #{promotion.pk} finished",
        )
        assert Promotion.objects.get(pk=promotion.pk).state == Promotion.State.SUCCEEDED, celery_worker.log()

    v1 = make_dev_commit("41.20261125.0", extra=("htop",))
    approve_and_wait(promotion_request(user=release_engineer, checksum=v1.checksum))
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37", extra=("git",))
    approve_and_wait(promotion_request(user=release_engineer, checksum=v2.checksum))
    # Nothing has compared v2's tree (prod's head) with v1's before: the request queues that pair for the worker.
    assert not TreeDiff.objects.filter(old_tree=v2.content_checksum, new_tree=v1.content_checksum).exists()

    rollback = rollback_request(user=release_engineer, checksum=v1.checksum, comment="printing broke")

    stored = wait_until(
        lambda: TreeDiff.objects.filter(old_tree=v2.content_checksum, new_tree=v1.content_checksum).first(),
        timeout=60,
        message="the worker stored the rollback's changes",
    )
    assert (stored.files_added, stored.files_removed, stored.files_modified) == (2, 2, 2)
    assert "releases.repo_tree_diffs" in celery_worker.log()
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("a page view started a process"))
    page = client_for(approver).get(f"/releases/promotions/{rollback.pk}/").content.decode()
    assert "2 added" in page
    assert "downgraded" in page

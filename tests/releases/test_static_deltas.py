"""A promotion publishes the ref first; the static delta follows in a task of its own, on real repos."""

from __future__ import annotations

import subprocess

import pytest

from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Promotion
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.deltas import promotion_static_delta_publish
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run
from tests.releases.conftest import REF_STABLE
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def promote(commit, release_engineer, approver) -> Promotion:  # type: ignore[no-untyped-def]
    requested = promotion_request(user=release_engineer, checksum=commit.checksum)
    done = promotion_run(promotion_id=approval_grant(user=approver, promotion=requested).pk)
    assert done.state == Promotion.State.SUCCEEDED, done.log
    return done


def summary_view(repo: Repo) -> str:
    return subprocess.run(
        ["ostree", "summary", "--view", f"--repo={repo.path}"], capture_output=True, text=True, check=True
    ).stdout


def test_the_ref_is_published_before_the_delta_and_the_delta_task_adds_it_to_the_summary(
    stages, make_dev_commit, release_engineer, approver
):
    prod = Repo(stages["prod"].repo_dir)
    v1 = make_dev_commit("41.20261125.0")
    promote(v1, release_engineer, approver)
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37")
    p2 = promote(v2, release_engineer, approver)
    name = f"{v1.checksum}-{v2.checksum}"

    assert v2.checksum in summary_view(prod)
    assert name not in prod.static_deltas()

    assert promotion_static_delta_publish(promotion_id=p2.pk) == name
    assert name in prod.static_deltas()
    assert name in summary_view(prod)
    p2.refresh_from_db()
    assert f"static delta {v1.checksum[:10]}-{v2.checksum[:10]} generated" in p2.log
    # Twice is harmless: the delta is kept, not made again.
    assert promotion_static_delta_publish(promotion_id=p2.pk) == name
    assert prod.fsck().ok


def test_the_delta_task_skips_a_commit_the_ref_no_longer_publishes(stages, make_dev_commit, release_engineer, approver):
    prod = Repo(stages["prod"].repo_dir)
    v1 = make_dev_commit("41.20261125.0")
    promote(v1, release_engineer, approver)
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37")
    p2 = promote(v2, release_engineer, approver)
    v3 = make_dev_commit("41.20261127.0", bash="5.2.38")
    promote(v3, release_engineer, approver)

    assert promotion_static_delta_publish(promotion_id=p2.pk) is None
    assert prod.static_deltas() == []
    assert prod.resolve(REF_STABLE) == v3.checksum


def test_the_delta_task_does_nothing_for_a_missing_or_failed_promotion(stages, make_dev_commit, release_engineer):
    v1 = make_dev_commit("41.20261125.0")
    requested = promotion_request(user=release_engineer, checksum=v1.checksum)

    assert promotion_static_delta_publish(promotion_id=requested.pk) is None
    assert promotion_static_delta_publish(promotion_id=requested.pk + 1000) is None
    assert Repo(stages["prod"].repo_dir).static_deltas() == []


@pytest.mark.slow
def test_a_real_worker_publishes_the_ref_then_adds_the_delta(
    stages, make_dev_commit, release_engineer, approver, celery_worker
):
    prod = Repo(stages["prod"].repo_dir)

    def approve_and_wait(commit) -> Promotion:  # type: ignore[no-untyped-def]
        promotion = approval_grant(
            user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
        )
        wait_until(
            lambda: Promotion.objects.get(pk=promotion.pk).state in Promotion.FINISHED_STATES,
            timeout=90,
            message=f"promotion #{promotion.pk} finished",
        )
        promotion.refresh_from_db()
        assert promotion.state == Promotion.State.SUCCEEDED, promotion.log + celery_worker.log()
        return promotion

    v1 = make_dev_commit("41.20261125.0")
    approve_and_wait(v1)
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37")
    approve_and_wait(v2)

    name = f"{v1.checksum}-{v2.checksum}"
    wait_until(lambda: name in summary_view(prod), timeout=90, message="the summary lists the static delta")
    assert "releases.static_delta" in celery_worker.log()


def test_the_delta_task_leaves_the_delta_to_a_later_request_of_the_same_ref(
    stages, make_dev_commit, release_engineer, approver
):
    v1 = make_dev_commit("41.20261125.0")
    promote(v1, release_engineer, approver)
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37")
    p2 = promote(v2, release_engineer, approver)
    v3 = make_dev_commit("41.20261127.0", bash="5.2.38")
    promotion_request(user=release_engineer, checksum=v3.checksum)

    assert promotion_static_delta_publish(promotion_id=p2.pk) is None
    assert Repo(stages["prod"].repo_dir).static_deltas() == []

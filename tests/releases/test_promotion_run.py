"""The promotion run (worker side), called in-process on real repos: DESIGN.md section 5 step by step."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.ostree import Repo, gvariant
from kinoite_portal.releases.errors import PublishIncomplete
from kinoite_portal.releases.models import Promotion, RefUpdate, Stage
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.deltas import promotion_static_delta_publish
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run
from kinoite_portal.releases.tasks.promotion import promotion_run_task
from tests.releases.conftest import REF_STABLE

pytestmark = pytest.mark.django_db(transaction=True)


def approved(promotion: Promotion, approver: User) -> Promotion:
    promotion = approval_grant(user=approver, promotion=promotion, comment="tested on the pilot ring")
    assert promotion.state == Promotion.State.QUEUED
    return promotion


def test_it_publishes_the_approved_checksum_under_the_prod_ref(stages, make_dev_commit, release_engineer, approver):
    commit = make_dev_commit("41.20261125.0")
    promotion = approved(promotion_request(user=release_engineer, checksum=commit.checksum), approver)
    # The worker would get the id through JSON: make sure it survives that trip.
    (promotion_id,) = json.loads(json.dumps([promotion.pk]))

    promotion = promotion_run(promotion_id=promotion_id)

    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log
    prod = Repo(stages["prod"].repo_dir)
    assert prod.resolve(REF_STABLE) == commit.checksum
    assert promotion.published_commit == commit
    assert prod.fsck().ok
    assert (stages["prod"].repo_dir / "summary").is_file()
    assert "+ ostree pull-local" in promotion.log
    assert f"--create={REF_STABLE}" in promotion.log
    event = AuditEvent.objects.get(action="promotion.run", object_id=str(promotion.pk))
    assert any(c.startswith("ostree pull-local") for c in event.commands)
    update = RefUpdate.objects.get(ref__stage=stages["prod"], promotion=promotion)
    assert update.commit == commit
    assert update.source == "promotion"


def test_running_it_twice_changes_nothing_the_second_time(stages, make_dev_commit, release_engineer, approver):
    commit = make_dev_commit("41.20261125.0")
    promotion = approved(promotion_request(user=release_engineer, checksum=commit.checksum), approver)
    promotion_run(promotion_id=promotion.pk)
    log_before = Promotion.objects.get(pk=promotion.pk).log

    again = promotion_run_task.run(promotion.pk)

    assert again == "succeeded"
    assert Promotion.objects.get(pk=promotion.pk).log == log_before
    assert RefUpdate.objects.filter(ref__stage=stages["prod"]).count() == 1
    assert AuditEvent.objects.filter(action="promotion.run").count() == 1


def test_it_recommits_a_tree_bound_only_to_the_dev_ref(stages, make_dev_commit, release_engineer, approver):
    commit = make_dev_commit("41.20261125.0", bind_stable=False)
    assert commit.ref_binding == ["fedora/x86_64/kinoite/dev"]
    promotion = approved(promotion_request(user=release_engineer, checksum=commit.checksum), approver)

    promotion = promotion_run(promotion_id=promotion.pk)

    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log
    prod = Repo(stages["prod"].repo_dir)
    head = prod.resolve(REF_STABLE)
    assert head != commit.checksum
    info = prod.read_commit(head)
    assert info.content_checksum == commit.content_checksum
    assert REF_STABLE in (info.ref_binding or ())
    assert info.version == commit.version
    assert promotion.published_commit.recommit_of == commit
    assert prod.fsck(verify_bindings=True).ok


def test_a_second_promotion_makes_a_static_delta_from_the_previous_head(
    stages, make_dev_commit, release_engineer, approver
):
    v1 = make_dev_commit("41.20261125.0")
    promotion_run(promotion_id=approved(promotion_request(user=release_engineer, checksum=v1.checksum), approver).pk)
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37")
    p2 = promotion_run(
        promotion_id=approved(promotion_request(user=release_engineer, checksum=v2.checksum), approver).pk
    )

    assert p2.state == Promotion.State.SUCCEEDED, p2.log
    assert p2.previous_head == v1
    # The ref is published first; the delta task (tests/releases/test_static_deltas.py) adds the delta after.
    assert promotion_static_delta_publish(promotion_id=p2.pk) == f"{v1.checksum}-{v2.checksum}"
    assert f"{v1.checksum}-{v2.checksum}" in Repo(stages["prod"].repo_dir).static_deltas()


def test_it_fails_clearly_when_the_prod_repo_is_gone_and_moves_nothing(
    stages, make_dev_commit, release_engineer, approver, tmp_path
):
    commit = make_dev_commit("41.20261125.0")
    promotion = approved(promotion_request(user=release_engineer, checksum=commit.checksum), approver)
    Stage.objects.filter(pk=stages["prod"].pk).update(repo_path=str(tmp_path / "nowhere"))

    promotion = promotion_run(promotion_id=promotion.pk)

    assert promotion.state == Promotion.State.FAILED
    assert "has no ostree repo" in promotion.failure_reason
    assert not RefUpdate.objects.filter(ref__stage=stages["prod"]).exists()
    assert Repo(stages["prod"].repo_dir).refs() == {}


def test_a_step_failing_after_the_ref_moved_records_the_move_and_finishes_when_run_again(
    stages, make_dev_commit, release_engineer, approver
):
    commit = make_dev_commit("41.20261125.0")
    promotion = approved(promotion_request(user=release_engineer, checksum=commit.checksum), approver)
    summary = stages["prod"].repo_dir / "summary"
    summary.mkdir()  # `ostree summary -u` cannot rename its new file over a folder: a real failure after the ref write

    with pytest.raises(PublishIncomplete, match=f"the ref already points at {commit.checksum}"):
        promotion_run(promotion_id=promotion.pk)

    promotion.refresh_from_db()
    assert promotion.state == Promotion.State.RUNNING  # not "failed: nothing was moved", which would be untrue
    assert Repo(stages["prod"].repo_dir).resolve(REF_STABLE) == commit.checksum
    assert RefUpdate.objects.get(ref__stage=stages["prod"]).commit == commit  # the database follows the repo
    assert "the remaining steps will be retried" in promotion.log
    assert AuditEvent.objects.filter(action="promotion.incomplete", object_id=str(promotion.pk)).count() == 1

    summary.rmdir()
    promotion = promotion_run(promotion_id=promotion.pk)

    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log
    assert summary.is_file()
    assert RefUpdate.objects.filter(ref__stage=stages["prod"]).count() == 1
    assert Repo(stages["prod"].repo_dir).fsck().ok


def test_a_run_decodes_no_package_list_from_the_repo_or_the_database(
    stages, make_dev_commit, release_engineer, approver, monkeypatch
):
    """Both commits are imported when the promotion is requested: the run needs their bindings, dates and checksums,
    and a Kinoite-sized package list costs more to decode than the run's own ref and summary steps."""
    first = make_dev_commit("41.20261125.0")
    promotion_run(promotion_id=approved(promotion_request(user=release_engineer, checksum=first.checksum), approver).pk)
    second = make_dev_commit("41.20261126.0", bash="5.2.37")
    promotion = approved(promotion_request(user=release_engineer, checksum=second.checksum), approver)
    decoded: list[object] = []
    real = gvariant.packages_from_value
    monkeypatch.setattr(gvariant, "packages_from_value", lambda value: decoded.append(value) or real(value))

    with CaptureQueriesContext(connection) as queries:
        done = promotion_run(promotion_id=promotion.pk)

    assert done.state == Promotion.State.SUCCEEDED, done.log
    assert Repo(stages["prod"].repo_dir).resolve(REF_STABLE) == second.checksum
    assert done.previous_head == first
    assert decoded == []
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert reads  # the run did read commit rows: just not their package lists
    assert [sql for sql in reads if '"releases_commit"."packages"' in sql] == []
    # The rows stay whole: a package list left out is read when asked for.
    assert done.commit.packages == second.packages

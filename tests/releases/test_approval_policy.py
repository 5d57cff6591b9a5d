"""The approval policy (DESIGN.md section 6) via the services: each refusal leaves prod and the request as they were."""

from __future__ import annotations

import pytest

from kinoite_portal.ostree import Repo
from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.models import Approval, Promotion, RefUpdate, Stage
from kinoite_portal.releases.services.approvals import approval_grant, approval_reject
from kinoite_portal.releases.services.policy import PolicyInput, Vote, policy_evaluate
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run
from tests.conftest import make_user
from tests.releases.conftest import REF_STABLE

pytestmark = pytest.mark.django_db(transaction=True)


def prod_state(stages: dict[str, Stage]) -> tuple[dict[str, str], int]:
    return Repo(stages["prod"].repo_dir).refs(), RefUpdate.objects.filter(ref__stage=stages["prod"]).count()


def test_the_policy_lists_met_and_missing_conditions_in_words() -> None:
    data = PolicyInput(
        kind="promote",
        requester_id=1,
        days_in_source=2.0,
        source_stage="dev",
        min_days=7,
        votes=[Vote(1, "rita", "approve", True), Vote(2, "alice", "approve", True)],
    )
    result = policy_evaluate(data)
    assert not result.satisfied
    assert result.approvals_counted == 1
    assert any("1 approval of 1 needed" in line for line in result.met)
    assert any("four eyes" in line for line in result.met)
    assert result.missing == ["In dev for 2.0 of 7 days; wait, or file an expedited request with a reason."]


def test_it_refuses_self_approval(stages, make_dev_commit, release_engineer):
    release_engineer.groups.add(*make_user("tmp-approver", "approvers").groups.all())
    commit = make_dev_commit("41.20261125.0")
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)

    with pytest.raises(PromotionError, match="four eyes"):
        approval_grant(user=release_engineer, promotion=promotion)

    promotion.refresh_from_db()
    assert promotion.state == Promotion.State.REQUESTED
    assert not Approval.objects.exists()


def test_it_refuses_a_department_heads_vote(stages, make_dev_commit, release_engineer, department_head):
    commit = make_dev_commit("41.20261125.0")
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)

    with pytest.raises(PromotionError, match="approvers group"):
        approval_grant(user=department_head, promotion=promotion)
    with pytest.raises(PromotionError, match="approvers group"):
        approval_reject(user=department_head, promotion=promotion, comment="no")

    promotion.refresh_from_db()
    assert promotion.state == Promotion.State.REQUESTED
    assert not Approval.objects.exists()


def test_a_commit_younger_than_the_minimum_waits_unless_expedited(
    stages, make_dev_commit, release_engineer, approver, second_approver
):
    commit = make_dev_commit("41.20261125.0", days_in_dev=1)
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)

    promotion = approval_grant(user=approver, promotion=promotion, comment="fine by me")

    assert promotion.state == Promotion.State.REQUESTED
    assert any("In dev for 1.0 of 7 days" in line for line in promotion.policy["missing"])
    assert prod_state(stages) == ({}, 0)


def test_an_expedited_request_needs_a_reason_and_one_more_approval(
    stages, make_dev_commit, release_engineer, approver, second_approver
):
    commit = make_dev_commit("41.20261125.0", days_in_dev=0)
    with pytest.raises(PromotionError, match="reason"):
        promotion_request(user=release_engineer, checksum=commit.checksum, expedited=True, expedite_reason=" ")
    promotion = promotion_request(
        user=release_engineer, checksum=commit.checksum, expedited=True, expedite_reason="CVE-2026-1234 in sudo"
    )

    promotion = approval_grant(user=approver, promotion=promotion)
    assert promotion.state == Promotion.State.REQUESTED
    assert any("1 approval of 2 needed" in line for line in promotion.policy["missing"])

    promotion = approval_grant(user=second_approver, promotion=promotion)
    assert promotion.state == Promotion.State.QUEUED
    assert any("CVE-2026-1234" in line for line in promotion.policy["met"])


def test_it_refuses_a_commit_older_than_the_prod_head(stages, make_dev_commit, release_engineer, approver):
    old = make_dev_commit("41.20261125.0")
    new = make_dev_commit("41.20261126.0", bash="5.2.37")
    p = approval_grant(user=approver, promotion=promotion_request(user=release_engineer, checksum=new.checksum))
    promotion_run(promotion_id=p.pk)
    before = prod_state(stages)

    with pytest.raises(PromotionError, match="older than prod's head"):
        promotion_request(user=release_engineer, checksum=old.checksum)

    assert prod_state(stages) == before
    assert Repo(stages["prod"].repo_dir).resolve(REF_STABLE) == new.checksum
    assert Promotion.objects.count() == 1


def test_the_run_itself_refuses_an_older_commit_if_prod_moved_after_the_request(
    stages, make_dev_commit, release_engineer, approver, second_approver
):
    old = make_dev_commit("41.20261125.0")
    new = make_dev_commit("41.20261126.0", bash="5.2.37")
    p_old = approval_grant(user=approver, promotion=promotion_request(user=release_engineer, checksum=old.checksum))
    p_new = approval_grant(user=approver, promotion=promotion_request(user=release_engineer, checksum=new.checksum))
    promotion_run(promotion_id=p_new.pk)
    before = prod_state(stages)

    p_old = promotion_run(promotion_id=p_old.pk)

    assert p_old.state == Promotion.State.FAILED
    assert "is older than" in p_old.failure_reason
    assert prod_state(stages) == before


def test_one_reject_ends_it_and_later_votes_are_refused(
    stages, make_dev_commit, release_engineer, approver, second_approver
):
    commit = make_dev_commit("41.20261125.0")
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)
    with pytest.raises(PromotionError, match="needs a comment"):
        approval_reject(user=approver, promotion=promotion, comment="")

    promotion = approval_reject(user=approver, promotion=promotion, comment="breaks printing")
    assert promotion.state == Promotion.State.REJECTED

    with pytest.raises(PromotionError, match="already rejected"):
        approval_grant(user=second_approver, promotion=promotion)
    promotion.refresh_from_db()
    assert promotion.state == Promotion.State.REJECTED
    assert prod_state(stages) == ({}, 0)
    # A new request is needed after a reject, and it is allowed.
    again = promotion_request(user=release_engineer, checksum=commit.checksum, comment="printing fixed in config")
    assert again.state == Promotion.State.REQUESTED


def test_it_refuses_a_vote_on_a_finished_promotion(
    stages, make_dev_commit, release_engineer, approver, second_approver
):
    commit = make_dev_commit("41.20261125.0")
    promotion = approval_grant(
        user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
    )
    promotion_run(promotion_id=promotion.pk)
    before = prod_state(stages)

    with pytest.raises(PromotionError, match="already succeeded"):
        approval_grant(user=second_approver, promotion=promotion)

    assert prod_state(stages) == before
    assert Approval.objects.count() == 1


def test_it_refuses_a_checksum_that_is_not_in_dev(stages, make_dev_commit, release_engineer):
    make_dev_commit("41.20261125.0")
    with pytest.raises(PromotionError, match="is not in the dev repo"):
        promotion_request(user=release_engineer, checksum="ab" * 32)
    with pytest.raises(PromotionError, match="64-hex"):
        promotion_request(user=release_engineer, checksum="fedora/x86_64/kinoite/dev")
    assert not Promotion.objects.exists()
    assert prod_state(stages) == ({}, 0)


def test_it_refuses_a_stage_without_a_repo_on_disk(stages, make_dev_commit, release_engineer, tmp_path):
    commit = make_dev_commit("41.20261125.0")
    Stage.objects.filter(name="prod").update(repo_path=str(tmp_path / "missing-prod"))

    with pytest.raises(PromotionError, match="has no ostree repo"):
        promotion_request(user=release_engineer, checksum=commit.checksum)

    assert not Promotion.objects.exists()
    assert not (tmp_path / "missing-prod").exists()


def test_a_rollback_needs_one_approval_and_no_minimum_time(stages, make_dev_commit, release_engineer, approver):
    from kinoite_portal.releases.services.rollbacks import rollback_request

    v1 = make_dev_commit("41.20261125.0")
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37")
    for commit in (v1, v2):
        p = approval_grant(user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum))
        promotion_run(promotion_id=p.pk)
    Stage.objects.filter(name="prod").update(min_days_in_previous_stage=30)

    rollback = rollback_request(user=release_engineer, checksum=v1.checksum, comment="v2 breaks wifi")
    rollback = approval_grant(user=approver, promotion=rollback)

    assert rollback.state == Promotion.State.QUEUED
    assert any("no minimum time" in line for line in rollback.policy["met"])

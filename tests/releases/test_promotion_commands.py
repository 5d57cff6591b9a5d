"""manage.py promote / approve / reject / rollback / list_promotions act as a named user under the same policy."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Promotion
from kinoite_portal.releases.services.promotions import promotion_run
from tests.releases.conftest import REF_STABLE

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_promote_approve_and_rollback_from_the_command_line(stages, make_dev_commit, release_engineer, approver):
    v1 = make_dev_commit("41.20261125.0")
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37")
    for commit in (v1, v2):
        assert "is requested" in run("promote", commit.checksum, "--as", "rita", "--comment", "weekly")
        pk = Promotion.objects.get(commit=commit).pk
        assert "is queued" in run("approve", str(pk), "--as", "alice")
        promotion_run(promotion_id=pk)
    assert "is requested" in run("rollback", v1.checksum, "--as", "rita", "--comment", "v2 breaks wifi")
    rollback = Promotion.objects.get(kind="rollback")
    run("approve", str(rollback.pk), "--as", "alice")
    promotion_run(promotion_id=rollback.pk)

    head = Repo(stages["prod"].repo_dir).read_commit(REF_STABLE)
    assert head.content_checksum == v1.content_checksum
    listing = run("list_promotions")
    assert f"#{rollback.pk}" in listing
    assert "succeeded" in listing


def test_the_commands_refuse_what_the_browser_refuses(stages, make_dev_commit, release_engineer, approver):
    commit = make_dev_commit("41.20261125.0")
    with pytest.raises(CommandError, match="No active user"):
        run("promote", commit.checksum, "--as", "nobody")
    with pytest.raises(CommandError, match="not in the dev repo"):
        run("promote", "ef" * 32, "--as", "rita")
    run("promote", commit.checksum, "--as", "rita")
    pk = str(Promotion.objects.get().pk)
    with pytest.raises(CommandError, match=r"four eyes|approvers group"):
        run("approve", pk, "--as", "rita")
    assert "rejected" in run("reject", pk, "--as", "alice", "--comment", "not yet")
    assert Repo(stages["prod"].repo_dir).refs() == {}

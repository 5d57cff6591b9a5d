"""Rollback = a forward commit with the old tree; a deployed client upgrades to it without --allow-downgrade."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kinoite_portal.ostree import Repo
from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.models import Promotion, RefUpdate
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run
from kinoite_portal.releases.services.retention import repo_prune
from kinoite_portal.releases.services.rollbacks import rollback_request
from tests.releases.conftest import REF_STABLE

pytestmark = pytest.mark.django_db(transaction=True)


def ostree(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ostree", *args], capture_output=True, text=True, timeout=120)


def promote(commit, release_engineer, approver) -> Promotion:  # type: ignore[no-untyped-def]
    p = approval_grant(user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum))
    p = promotion_run(promotion_id=p.pk)
    assert p.state == Promotion.State.SUCCEEDED, p.log
    return p


@pytest.fixture
def sysroot(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "sysroot"
    root.mkdir()
    yield root
    # Deployment roots are immutable (chattr +i): clear the flag so tmp_path can be removed.
    for deployment in root.glob("ostree/deploy/*/deploy/*.0"):
        subprocess.run(["chattr", "-i", str(deployment)], check=False)


def test_rollback_moves_prod_forward_to_v1s_tree_and_a_deployed_client_upgrades(
    stages, make_dev_commit, release_engineer, approver, live_server, sysroot
):
    v1 = make_dev_commit("41.20261125.0")
    promote(v1, release_engineer, approver)
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37", extra=("newtool",))
    promote(v2, release_engineer, approver)

    # A desktop deploys v2 from the portal's /repo/prod/.
    assert ostree("admin", "init-fs", str(sysroot)).returncode == 0
    assert ostree("admin", "os-init", "kinoite", f"--sysroot={sysroot}").returncode == 0
    added = ostree("remote", "add", f"--sysroot={sysroot}", "--no-gpg-verify", "prod", f"{live_server.url}/repo/prod/")
    assert added.returncode == 0, added.stderr
    pulled = ostree("pull", f"--repo={sysroot}/ostree/repo", "prod", REF_STABLE)
    assert pulled.returncode == 0, pulled.stderr
    deployed = ostree("admin", "deploy", f"--sysroot={sysroot}", "--os=kinoite", f"prod:{REF_STABLE}")
    assert deployed.returncode == 0, deployed.stderr
    assert v2.checksum in ostree("admin", "status", f"--sysroot={sysroot}").stdout

    rollback = rollback_request(user=release_engineer, checksum=v1.checksum, comment="v2 breaks wifi")
    rollback = promotion_run(promotion_id=approval_grant(user=approver, promotion=rollback).pk)

    assert rollback.state == Promotion.State.SUCCEEDED, rollback.log
    prod = Repo(stages["prod"].repo_dir)
    head = prod.resolve(REF_STABLE)
    assert head not in (v1.checksum, v2.checksum)
    info = prod.read_commit(head)
    assert info.parent == v2.checksum  # forward: the new commit sits on top of v2
    assert info.content_checksum == v1.content_checksum
    assert info.timestamp > v2.timestamp
    assert info.version not in (v1.version, v2.version)
    assert prod.diff(v1.checksum, head).identical
    assert rollback.published_commit.restores == v1
    assert RefUpdate.objects.get(promotion=rollback).source == "rollback"

    upgraded = ostree("admin", "upgrade", f"--sysroot={sysroot}", "--os=kinoite")
    assert upgraded.returncode == 0, upgraded.stderr
    status = ostree("admin", "status", f"--sysroot={sysroot}").stdout
    assert status.splitlines()[0].split()[-1].startswith(head)
    assert prod.fsck().ok


def test_it_refuses_to_roll_back_to_a_commit_prod_never_published(stages, make_dev_commit, release_engineer, approver):
    v1 = make_dev_commit("41.20261125.0")
    promote(v1, release_engineer, approver)
    never = make_dev_commit("41.20261126.0", bash="5.2.37")

    with pytest.raises(PromotionError, match="never published in prod"):
        rollback_request(user=release_engineer, checksum=never.checksum)
    with pytest.raises(PromotionError, match="already publishes"):
        rollback_request(user=release_engineer, checksum=v1.checksum)
    assert Promotion.objects.filter(kind="rollback").count() == 0


def test_the_commit_page_offers_no_rollback_to_a_commit_retention_pruned(
    stages, make_dev_commit, release_engineer, approver, client_for
):
    v1 = make_dev_commit("41.20261125.0")
    promote(v1, release_engineer, approver)
    promote(make_dev_commit("41.20261126.0", bash="5.2.37"), release_engineer, approver)
    prod_v1 = RefUpdate.objects.filter(ref__stage=stages["prod"]).order_by("moved_at").first().commit
    page = client_for(release_engineer).get(f"/releases/commits/{prod_v1.checksum}/").content.decode()
    assert "Request rollback" in page  # still in the prod repo: offered

    stages["prod"].retention_depth = 0
    stages["prod"].save()
    repo_prune(stage=stages["prod"])
    assert not Repo(stages["prod"].repo_dir).has_commit(prod_v1.checksum)

    page = client_for(release_engineer).get(f"/releases/commits/{prod_v1.checksum}/").content.decode()
    assert "Request rollback" not in page
    with pytest.raises(PromotionError, match="pruned"):
        rollback_request(user=release_engineer, checksum=prod_v1.checksum)

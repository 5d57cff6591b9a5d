"""A Kinoite-sized package list (3,000 packages: over the 128 KiB one command-line argument may hold) survives a
ref-binding re-commit and a rollback commit byte for byte, on real repos."""

from __future__ import annotations

import pytest

from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Promotion
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run
from kinoite_portal.releases.services.rollbacks import rollback_request
from tests.releases.conftest import REF_STABLE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PKGLIST = "rpmostree.rpmdb.pkglist"
MANY = tuple(f"corporate-package-with-a-long-name-{i:04d}" for i in range(3000))


def run(promotion: Promotion) -> Promotion:
    done = promotion_run(promotion_id=promotion.pk)
    assert done.state == Promotion.State.SUCCEEDED, done.log
    return done


def test_it_recommits_and_rolls_back_a_3000_package_commit_keeping_the_list_byte_for_byte(
    stages, make_dev_commit, release_engineer, approver
):
    dev, prod = Repo(stages["dev"].repo_dir), Repo(stages["prod"].repo_dir)
    # Bound only to the dev ref, as rpm-ostree makes it: publishing it as stable needs a re-commit.
    v1 = make_dev_commit("41.20261125.0", extra=MANY, bind_stable=False)
    v1_list = dev.metadata_keys(v1.checksum)[PKGLIST]
    assert len(v1_list.data) > 131072
    assert v1.package_count == 3003

    first = run(approval_grant(user=approver, promotion=promotion_request(user=release_engineer, checksum=v1.checksum)))
    recommit = prod.resolve(REF_STABLE)
    assert recommit is not None
    assert recommit != v1.checksum
    assert prod.read_commit(recommit).content_checksum == v1.content_checksum
    assert prod.metadata_keys(recommit)[PKGLIST] == v1_list
    assert first.published_commit is not None
    assert first.published_commit.package_count == 3003

    v2 = make_dev_commit("41.20261126.0", bash="5.2.37", extra=MANY[:-1], bind_stable=False)
    run(approval_grant(user=approver, promotion=promotion_request(user=release_engineer, checksum=v2.checksum)))

    rollback = rollback_request(user=release_engineer, checksum=recommit, comment="v2 breaks printing")
    run(approval_grant(user=approver, promotion=rollback))
    head = prod.resolve(REF_STABLE)
    assert head is not None
    info = prod.read_commit(head)
    assert info.content_checksum == v1.content_checksum
    assert info.version != v1.version
    assert prod.metadata_keys(head)[PKGLIST] == v1_list
    assert len(info.packages) == 3003

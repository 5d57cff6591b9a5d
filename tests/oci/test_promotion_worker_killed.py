"""SIGKILL the worker while skopeo copies an image to prod: the tag never points at an unsigned image, and the
re-queued task finishes the job with exactly one signature."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kinoite_portal.oci.registry import ImageRepo, Skopeo
from kinoite_portal.releases.models import Promotion, RefUpdate
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.images import image_record
from kinoite_portal.releases.services.promotions import promotion_request
from kinoite_portal.releases.services.requeue import promotion_requeue_stuck
from kinoite_portal.releases.services.stages import stage_sigstore
from tests.oci_registry import build_image
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_killed_during_the_copy_leaves_the_tag_alone_and_the_retry_finishes(
    oci_stages, signed_oci_prod, containerfile, oci_registry, tmp_path: Path, release_engineer, approver, start_worker
):
    # 3 layers of 40 MB of random bytes: the copy takes long enough to be caught in the act.
    build_image(
        registry=oci_registry,
        repository="dev/kinoite",
        tag="latest",
        layers=[{f"usr/share/big/{n}.bin": os.urandom(40 * 1024 * 1024)} for n in range(3)],
        labels={"version": "41.20261130.0"},
        workdir=tmp_path,
    )
    commit = image_record(stage=oci_stages["dev"], tag="latest")
    assert commit is not None
    prod = ImageRepo(oci_registry.host, "prod/kinoite", tls_verify=False)
    skopeo = Skopeo(sigstore=stage_sigstore(signed_oci_prod))
    worker = start_worker(queues="repo")
    promotion = approval_grant(
        user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
    )

    def copying() -> bool:
        row = Promotion.objects.get(pk=promotion.pk)
        return row.state == Promotion.State.RUNNING and "--sign-by" in row.log

    wait_until(copying, timeout=60, interval=0.01, message="the signed copy started")
    worker.kill()
    killed_at = time.monotonic()

    # The tag moves last: on the old head (none) or, had the copy just finished, on the signed new digest; never on
    # an image without its signature.
    key = signed_oci_prod.signing_key
    current = skopeo.resolve(prod, "stable")
    assert current in (None, f"sha256:{commit.checksum}")
    if current is not None:
        assert skopeo.signed_for(
            prod, commit.checksum, "stable", fingerprint=key.fingerprint, gnupg_home=key.gnupg_home
        )
    assert Promotion.objects.get(pk=promotion.pk).state == Promotion.State.RUNNING

    assert promotion_requeue_stuck() == [promotion.pk]
    start_worker(queues="repo", extra_env={"CELERY_VISIBILITY_TIMEOUT": "5"})
    wait_until(
        lambda: Promotion.objects.get(pk=promotion.pk).state in Promotion.FINISHED_STATES,
        timeout=120,
        message="promotion finished after the restart",
    )
    promotion.refresh_from_db()
    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log
    assert "resuming" in promotion.log
    assert skopeo.resolve(prod, "stable") == f"sha256:{commit.checksum}"
    assert skopeo.signed_for(prod, commit.checksum, "stable", fingerprint=key.fingerprint, gnupg_home=key.gnupg_home)
    # The retry's copy rewrote the signature list of the digest rather than adding to it.
    assert len(skopeo.signature_paths(prod, commit.checksum)) == 1
    assert RefUpdate.objects.filter(promotion=promotion).count() == 1
    assert time.monotonic() - killed_at < 120

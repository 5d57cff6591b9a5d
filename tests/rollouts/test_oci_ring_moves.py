"""Ring moves of an OCI stage, in process, against a real registry with real skopeo and gpg.

A ring move signs the rollout's digest for the ring's tag and then moves the tag; it is safe to re-run, and it moves
only the digest the rollout's promotion was approved for and published (images carry no ref binding to check).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.oci.registry import ImageRepo, Skopeo
from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.models import Commit, Promotion, RefUpdate, Stage, Treefile
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.images import image_record
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run
from kinoite_portal.releases.services.stages import stage_sigstore
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutRing
from kinoite_portal.rollouts.services.rollouts import rollout_halt, rollout_ring_move, rollout_rollback
from tests.oci_registry import Registry, push_dev_image

pytestmark = pytest.mark.django_db(transaction=True)


def publish(commit: Commit, engineer: Any, approver: Any) -> Promotion:
    promotion = promotion_request(user=engineer, checksum=commit.checksum)
    approval_grant(user=approver, promotion=promotion)
    promotion = promotion_run(promotion_id=promotion.pk)
    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log
    return promotion


@pytest.fixture
def oci_rollout(
    oci_stages: dict[str, Stage],
    signed_oci_prod: Stage,
    containerfile: Any,
    oci_registry: Registry,
    tmp_path: Path,
    release_engineer: Any,
    approver: Any,
) -> dict[str, Any]:
    """prod:stable on the old image; rings pilot and broad; the new image promoted, so on stable-pilot only."""
    images = {}
    for version in ("41.20261101.0", "41.20261125.0"):
        push_dev_image(oci_registry, tmp_path / version, version=version)
        commit = image_record(stage=oci_stages["dev"], tag="latest")
        assert commit is not None
        images[version] = commit
        if version == "41.20261101.0":
            publish(commit, release_engineer, approver)
            Ring.objects.create(stage=signed_oci_prod, name="pilot", order=1, soak_time=timedelta(0))
            Ring.objects.create(stage=signed_oci_prod, name="broad", order=2, soak_time=timedelta(0))
    promotion = publish(images["41.20261125.0"], release_engineer, approver)
    rollout = Rollout.objects.get(promotion=promotion)
    broad = rollout.rings.get(name="broad")
    return {
        "rollout": rollout,
        "broad": broad,
        "old": images["41.20261101.0"],
        "new": images["41.20261125.0"],
        "prod": ImageRepo(oci_registry.host, "prod/kinoite", tls_verify=False),
        "stage": signed_oci_prod,
    }


def moving(ring: RolloutRing) -> None:
    RolloutRing.objects.filter(pk=ring.pk).update(state=RolloutRing.State.MOVING)


def test_the_last_ring_signs_the_digest_for_its_tag_and_the_stage_tag_then_moves_both_and_a_rerun_changes_nothing(
    oci_rollout: dict[str, Any],
) -> None:
    new, prod, stage = oci_rollout["new"], oci_rollout["prod"], oci_rollout["stage"]
    key = stage.signing_key
    skopeo = Skopeo(sigstore=stage_sigstore(stage))
    assert not skopeo.signed_for(
        prod, new.checksum, "stable-broad", fingerprint=key.fingerprint, gnupg_home=key.gnupg_home
    )
    moving(oci_rollout["broad"])

    ring = rollout_ring_move(rollout_ring_id=oci_rollout["broad"].pk)

    assert ring.state == RolloutRing.State.MOVED
    for tag in ("stable-broad", "stable"):
        assert skopeo.resolve(prod, tag) == f"sha256:{new.checksum}"
        assert skopeo.signed_for(prod, new.checksum, tag, fingerprint=key.fingerprint, gnupg_home=key.gnupg_home)
    signatures = len(skopeo.signature_paths(prod, new.checksum))
    updates = RefUpdate.objects.filter(source=RefUpdate.Source.ROLLOUT).count()
    assert updates == 2
    event = AuditEvent.objects.get(action="rollout.move", object_id=str(oci_rollout["rollout"].pk))
    assert "stable-broad" in event.message
    assert "stable " in event.message

    # Sent again (a worker that died after the tags moved): the tags are there, nothing is signed or recorded twice.
    moving(oci_rollout["broad"])
    again = rollout_ring_move(rollout_ring_id=oci_rollout["broad"].pk)
    assert again.state == RolloutRing.State.MOVED
    assert len(skopeo.signature_paths(prod, new.checksum)) == signatures
    assert RefUpdate.objects.filter(source=RefUpdate.Source.ROLLOUT).count() == updates


def test_a_ring_move_of_a_digest_the_promotion_did_not_publish_halts_the_rollout_and_moves_no_tag(
    oci_rollout: dict[str, Any],
) -> None:
    old, new, prod = oci_rollout["old"], oci_rollout["new"], oci_rollout["prod"]
    rollout = oci_rollout["rollout"]
    # The rollout's row names another image than the one approved and published (a tampered or stale row).
    Rollout.objects.filter(pk=rollout.pk).update(commit=old)
    moving(oci_rollout["broad"])

    ring = rollout_ring_move(rollout_ring_id=oci_rollout["broad"].pk)

    rollout.refresh_from_db()
    assert ring.state == RolloutRing.State.WAITING
    assert rollout.state == Rollout.State.HALTED
    assert f"Image {old.checksum[:10]} is not the image promotion #{rollout.promotion_id}" in rollout.halt_reason
    assert Skopeo().resolve(prod, "stable-broad") is None
    assert Skopeo().resolve(prod, "stable-pilot") == f"sha256:{new.checksum}"
    assert Skopeo().resolve(prod, "stable") == f"sha256:{old.checksum}"
    assert not RefUpdate.objects.filter(source=RefUpdate.Source.ROLLOUT).exists()


def test_a_ring_move_whose_image_left_the_registry_halts_with_the_reason_and_moves_no_tag(
    oci_rollout: dict[str, Any], oci_registry: Registry
) -> None:
    new, prod, rollout = oci_rollout["new"], oci_rollout["prod"], oci_rollout["rollout"]
    # Another image under a digest the registry never held stands in for one deleted from prod.
    missing = Commit.objects.create(checksum="ab" * 32, version="41.9", timestamp=new.timestamp)
    Promotion.objects.filter(pk=rollout.promotion_id).update(commit=missing, published_commit=missing)
    Rollout.objects.filter(pk=rollout.pk).update(commit=missing)
    moving(oci_rollout["broad"])

    rollout_ring_move(rollout_ring_id=oci_rollout["broad"].pk)

    rollout.refresh_from_db()
    assert rollout.state == Rollout.State.HALTED
    assert "could not move" in rollout.halt_reason
    assert "no longer in the prod repository" in rollout.halt_reason
    assert Skopeo().resolve(prod, "stable-broad") is None
    assert not RefUpdate.objects.filter(source=RefUpdate.Source.ROLLOUT).exists()


def test_once_every_ring_moved_the_rollback_of_the_stage_tag_re_signs_the_old_image_for_every_ring_tag(
    oci_rollout: dict[str, Any], release_engineer: Any, approver: Any
) -> None:
    old, new, prod, stage = oci_rollout["old"], oci_rollout["new"], oci_rollout["prod"], oci_rollout["stage"]
    key = stage.signing_key
    skopeo = Skopeo(sigstore=stage_sigstore(stage))
    moving(oci_rollout["broad"])
    rollout_ring_move(rollout_ring_id=oci_rollout["broad"].pk)
    rollout = oci_rollout["rollout"]
    rollout = rollout_halt(user=approver, rollout=rollout, reason="the broad ring's desktops lost their printers")

    (rollback,) = rollout_rollback(user=release_engineer, rollout=rollout)
    assert rollback.target_ref == "stable"  # the last ring moved: one rollback of the stage tag covers every ring
    approval_grant(user=approver, promotion=rollback)
    rollback = promotion_run(promotion_id=rollback.pk)
    assert rollback.state == Promotion.State.SUCCEEDED, rollback.log
    assert skopeo.resolve(prod, "stable") == f"sha256:{old.checksum}"

    # The rollback's rollout moves every ring at once (the worker would; here in process, in order).
    restoring = Rollout.objects.get(promotion=rollback)
    rings = list(restoring.rings.order_by("order"))
    assert [ring.state for ring in rings] == [RolloutRing.State.MOVING, RolloutRing.State.MOVING]
    for ring in rings:
        assert rollout_ring_move(rollout_ring_id=ring.pk).state == RolloutRing.State.MOVED
    for tag in ("stable-pilot", "stable-broad", "stable"):
        assert skopeo.resolve(prod, tag) == f"sha256:{old.checksum}", tag
        assert skopeo.signed_for(prod, old.checksum, tag, fingerprint=key.fingerprint, gnupg_home=key.gnupg_home)
    assert skopeo.resolve(prod, "stable-pilot") != f"sha256:{new.checksum}"


def test_before_the_first_ring_tag_exists_an_image_older_than_the_stage_tag_is_refused(
    oci_stages: dict[str, Stage],
    signed_oci_prod: Stage,
    containerfile: Any,
    oci_registry: Registry,
    tmp_path: Path,
    release_engineer: Any,
    approver: Any,
) -> None:
    images = []
    for version in ("41.20261101.0", "41.20261125.0"):
        push_dev_image(oci_registry, tmp_path / version, version=version)
        commit = image_record(stage=oci_stages["dev"], tag="latest")
        assert commit is not None
        images.append(commit)
    older, newer = images
    publish(newer, release_engineer, approver)
    Ring.objects.create(stage=signed_oci_prod, name="pilot", order=1)
    Ring.objects.create(stage=signed_oci_prod, name="broad", order=2)

    with pytest.raises(PromotionError, match="is older than"):
        promotion_request(user=release_engineer, checksum=older.checksum)
    assert not Promotion.objects.filter(commit=older).exists()
    prod = ImageRepo(oci_registry.host, "prod/kinoite", tls_verify=False)
    assert Skopeo().resolve(prod, "stable-pilot") is None


def test_a_ring_tag_a_registry_would_refuse_makes_the_request_fail_and_nothing_is_requested(
    oci_stages: dict[str, Stage],
    signed_oci_prod: Stage,
    containerfile: Any,
    oci_registry: Registry,
    tmp_path: Path,
    release_engineer: Any,
) -> None:
    # A tag has at most 128 characters: the stage tag fits, its ring's sibling tag does not.
    stage_tag = "s" * 125
    Treefile.objects.filter(pk=containerfile.pk).update(published_ref=stage_tag)
    Ring.objects.create(stage=signed_oci_prod, name="pilot", order=1)
    Ring.objects.create(stage=signed_oci_prod, name="broad", order=2)
    push_dev_image(oci_registry, tmp_path, version="41.20261125.0")
    commit = image_record(stage=oci_stages["dev"], tag="latest")
    assert commit is not None

    with pytest.raises(PromotionError, match=f"cannot be a tag of prod: '{stage_tag}-pilot' is not an image tag"):
        promotion_request(user=release_engineer, checksum=commit.checksum)
    assert not Promotion.objects.exists()

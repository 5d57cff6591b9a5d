"""Promotion and rollback of OCI stages: by digest, signed for the tag, the tag moved last; the approval code as is."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.oci.registry import ImageRepo, Skopeo
from kinoite_portal.releases.errors import PromotionConflict, PromotionError
from kinoite_portal.releases.models import Commit, Promotion, RefUpdate, Stage, Treefile
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.images import image_record
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run
from kinoite_portal.releases.services.rollbacks import rollback_request
from kinoite_portal.releases.services.signing import signing_key_generate, stage_resign
from kinoite_portal.releases.services.stages import stage_sigstore
from kinoite_portal.releases.tasks.promotion import promotion_run_task
from tests.oci_registry import Registry, push_dev_image

pytestmark = pytest.mark.django_db(transaction=True)


def _repo(registry: Registry, name: str) -> ImageRepo:
    return ImageRepo(registry.host, f"{name}/kinoite", tls_verify=False)


def _dev_image(registry: Registry, tmp_path: Path, stages: dict[str, Stage], version: str) -> Commit:
    push_dev_image(registry, tmp_path, version=version)
    commit = image_record(stage=stages["dev"], tag="latest")
    assert commit is not None
    return commit


def _promoted(user: User, approver: User, commit: Commit) -> Promotion:
    promotion = promotion_request(user=user, checksum=commit.checksum)
    promotion = approval_grant(user=approver, promotion=promotion, comment="ran it on the pilot desktops")
    assert promotion.state == Promotion.State.QUEUED
    return promotion_run(promotion_id=promotion.pk)


def _signed_for(stage: Stage, registry: Registry, digest_hex: str, tag: str) -> bool:
    key = stage.signing_key
    assert key is not None
    return Skopeo(sigstore=stage_sigstore(stage)).signed_for(
        _repo(registry, "prod"), digest_hex, tag, fingerprint=key.fingerprint, gnupg_home=key.gnupg_home
    )


def test_an_approved_image_is_copied_by_digest_signed_for_its_tag_and_then_the_tag_moves(
    oci_stages, signed_oci_prod, containerfile, oci_registry, tmp_path, release_engineer, approver
):
    commit = _dev_image(oci_registry, tmp_path, oci_stages, "41.1")

    promotion = _promoted(release_engineer, approver, commit)

    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log
    assert promotion.published_commit == commit
    assert Skopeo().resolve(_repo(oci_registry, "prod"), "stable") == f"sha256:{commit.checksum}"
    assert _signed_for(signed_oci_prod, oci_registry, commit.checksum, "stable")
    commands = [line.split(" ", 1)[1] for line in promotion.log.splitlines() if " + skopeo " in f" {line}"]
    copy = next(i for i, c in enumerate(commands) if "--sign-by" in c)
    assert "--preserve-digests" in commands[copy]
    assert f"dev/kinoite@sha256:{commit.checksum}" in commands[copy]
    assert f"prod/kinoite@sha256:{commit.checksum}" in commands[copy]  # by digest: no tag moves with the copy
    assert f"--sign-identity {oci_registry.host}/prod/kinoite:stable" in commands[copy]
    move = next(i for i, c in enumerate(commands) if " copy " in c and c.endswith("/prod/kinoite:stable"))
    verify = next(i for i, c in enumerate(commands) if "standalone-verify" in c and i > copy)
    assert copy < verify < move  # the tag moves only after the copy and a verified signature
    update = RefUpdate.objects.get(ref__stage=signed_oci_prod, ref__name="stable")
    assert (update.commit, update.source, update.promotion) == (commit, RefUpdate.Source.PROMOTION, promotion)
    event = AuditEvent.objects.get(action="promotion.run", object_id=str(promotion.pk))
    assert any("--sign-by" in c for c in event.commands)


def test_running_it_again_changes_nothing(
    oci_stages, signed_oci_prod, containerfile, oci_registry, tmp_path, release_engineer, approver
):
    commit = _dev_image(oci_registry, tmp_path, oci_stages, "41.1")
    promotion = _promoted(release_engineer, approver, commit)
    log = Promotion.objects.get(pk=promotion.pk).log

    assert promotion_run_task.run(promotion.pk) == "succeeded"

    assert Promotion.objects.get(pk=promotion.pk).log == log
    assert RefUpdate.objects.filter(ref__stage=signed_oci_prod).count() == 1
    sigstore = stage_sigstore(signed_oci_prod)
    assert len(Skopeo(sigstore=sigstore).signature_paths(_repo(oci_registry, "prod"), commit.checksum)) == 1


def test_a_run_stopped_after_the_signed_copy_finishes_by_moving_the_tag_without_signing_twice(
    oci_stages, signed_oci_prod, containerfile, oci_registry, tmp_path, release_engineer, approver
):
    commit = _dev_image(oci_registry, tmp_path, oci_stages, "41.1")
    promotion = approval_grant(
        user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
    )
    key = signed_oci_prod.signing_key
    assert key is not None
    # What a worker killed between the copy and the tag move leaves: the run claimed and read the head, the image
    # is in prod by digest with its signature, the tag has not moved.
    Promotion.objects.filter(pk=promotion.pk).update(
        state=Promotion.State.RUNNING, moved_ref="stable", previous_head_recorded=True, log="# first attempt"
    )
    skopeo = Skopeo(sigstore=stage_sigstore(signed_oci_prod))
    skopeo.copy_signed(
        _repo(oci_registry, "dev"),
        commit.checksum,
        _repo(oci_registry, "prod"),
        sign_tag="stable",
        fingerprint=key.fingerprint,
        gnupg_home=key.gnupg_home,
    )
    assert skopeo.resolve(_repo(oci_registry, "prod"), "stable") is None

    promotion = promotion_run(promotion_id=promotion.pk)

    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log
    assert "resuming" in promotion.log
    assert "already signed for stable" in promotion.log
    assert skopeo.resolve(_repo(oci_registry, "prod"), "stable") == f"sha256:{commit.checksum}"
    assert len(skopeo.signature_paths(_repo(oci_registry, "prod"), commit.checksum)) == 1


def test_a_tag_moved_by_someone_else_during_the_run_fails_it_and_nothing_more_moves(
    oci_stages, signed_oci_prod, containerfile, oci_registry, tmp_path, release_engineer, approver
):
    first = _dev_image(oci_registry, tmp_path, oci_stages, "41.1")
    second = _dev_image(oci_registry, tmp_path, oci_stages, "41.2")
    promotion = approval_grant(
        user=approver, promotion=promotion_request(user=release_engineer, checksum=second.checksum)
    )
    Promotion.objects.filter(pk=promotion.pk).update(moved_ref="stable", previous_head_recorded=True)
    # Someone pushes the first image to prod:stable by hand after the run read the (empty) head.
    Skopeo().copy_signed(_repo(oci_registry, "dev"), first.checksum, _repo(oci_registry, "prod"), sign_tag=None)
    Skopeo().tag(_repo(oci_registry, "prod"), first.checksum, "stable")

    promotion = promotion_run(promotion_id=promotion.pk)

    assert promotion.state == Promotion.State.FAILED
    assert "moved to" in promotion.failure_reason
    assert Skopeo().resolve(_repo(oci_registry, "prod"), "stable") == f"sha256:{first.checksum}"
    assert not RefUpdate.objects.filter(ref__stage=signed_oci_prod).exists()


def test_requests_for_a_digest_dev_lacks_or_a_non_digest_are_refused_and_record_nothing(
    oci_stages, containerfile, oci_registry, tmp_path, release_engineer
):
    _dev_image(oci_registry, tmp_path, oci_stages, "41.1")
    with pytest.raises(PromotionError, match="is not in the dev repository"):
        promotion_request(user=release_engineer, checksum="e" * 64, treefile=containerfile)
    with pytest.raises(PromotionError, match="64-hex"):
        promotion_request(user=release_engineer, checksum="latest", treefile=containerfile)
    assert not Promotion.objects.exists()
    assert Commit.objects.count() == 1


def test_an_image_prod_already_publishes_cannot_be_requested_again(
    oci_stages, signed_oci_prod, containerfile, oci_registry, tmp_path, release_engineer, approver
):
    commit = _dev_image(oci_registry, tmp_path, oci_stages, "41.1")
    _promoted(release_engineer, approver, commit)
    with pytest.raises(PromotionConflict, match="already publishes this image as stable"):
        promotion_request(user=release_engineer, checksum=commit.checksum)


def test_a_rollback_re_tags_the_earlier_digest_with_a_new_signature_from_the_current_key(
    oci_stages, signed_oci_prod, containerfile, oci_registry, tmp_path, release_engineer, approver, client_for
):
    v1 = _dev_image(oci_registry, tmp_path, oci_stages, "41.1")
    _promoted(release_engineer, approver, v1)
    v2 = _dev_image(oci_registry, tmp_path, oci_stages, "41.2")
    _promoted(release_engineer, approver, v2)
    # The key changed since v1 was signed: v1's old signature no longer counts for the stage's key.
    signing_key_generate(
        stage=signed_oci_prod, name="Prod images 2027", email="prod@portal.invalid", queue_resign=False
    )
    signed_oci_prod.refresh_from_db()
    assert not _signed_for(signed_oci_prod, oci_registry, v1.checksum, "stable")

    rollback = rollback_request(user=release_engineer, checksum=v1.checksum, stage=signed_oci_prod, ref_name="stable")
    rollback = approval_grant(user=approver, promotion=rollback)
    rollback = promotion_run(promotion_id=rollback.pk)

    assert rollback.state == Promotion.State.SUCCEEDED, rollback.log
    assert Skopeo().resolve(_repo(oci_registry, "prod"), "stable") == f"sha256:{v1.checksum}"
    assert rollback.published_commit == v1  # the very digest: an image needs no forward commit
    assert _signed_for(signed_oci_prod, oci_registry, v1.checksum, "stable")
    sigstore = stage_sigstore(signed_oci_prod)
    assert len(Skopeo(sigstore=sigstore).signature_paths(_repo(oci_registry, "prod"), v1.checksum)) == 2
    assert RefUpdate.objects.filter(ref__name="stable").first().source == RefUpdate.Source.ROLLBACK  # type: ignore[union-attr]
    page = client_for(approver).get(f"/releases/promotions/{rollback.pk}/").content.decode()
    assert f"{oci_registry.host}/prod/kinoite:stable" in page
    assert "The tag moves back to the image of 41.1, signed for the tag" in page
    assert "forward commit" not in page


def test_a_promotion_between_an_ostree_and_an_oci_stage_is_refused(
    db: None, containerfile: Treefile, oci_stages, oci_registry, tmp_path, release_engineer
):
    commit = _dev_image(oci_registry, tmp_path, oci_stages, "41.1")
    Stage.objects.filter(name="prod").update(kind=Stage.Kind.OSTREE, repo_path=str(tmp_path / "prod-repo"))
    with pytest.raises(PromotionError, match="within one kind of stage"):
        promotion_request(user=release_engineer, checksum=commit.checksum)


def test_a_new_key_re_signs_each_published_tag_once(
    oci_stages, signed_oci_prod, containerfile, oci_registry, tmp_path, release_engineer, approver
):
    v1 = _dev_image(oci_registry, tmp_path, oci_stages, "41.1")
    _promoted(release_engineer, approver, v1)
    signing_key_generate(
        stage=signed_oci_prod, name="Prod images 2027", email="prod@portal.invalid", queue_resign=False
    )
    signed_oci_prod.refresh_from_db()
    assert not _signed_for(signed_oci_prod, oci_registry, v1.checksum, "stable")

    report = stage_resign(stage=signed_oci_prod)

    assert report.signed == [f"stable@sha256:{v1.checksum}"]
    assert _signed_for(signed_oci_prod, oci_registry, v1.checksum, "stable")
    assert stage_resign(stage=signed_oci_prod).signed == []  # nothing twice

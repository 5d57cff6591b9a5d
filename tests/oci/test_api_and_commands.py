"""The API and the management commands drive OCI promotions exactly as they drive ostree ones (same endpoints)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from kinoite_portal.oci.registry import ImageRepo, Skopeo
from kinoite_portal.releases.models import Commit, Promotion
from kinoite_portal.releases.services.images import image_record
from kinoite_portal.releases.services.promotions import promotion_run
from tests.oci_registry import Registry, push_dev_image
from tests.releases.test_api_promotions import post, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def _dev_image(registry: Registry, tmp_path: Path, stages, version: str) -> Commit:  # type: ignore[no-untyped-def]
    push_dev_image(registry, tmp_path, version=version)
    commit = image_record(stage=stages["dev"], tag="latest")
    assert commit is not None
    return commit


def test_the_api_requests_and_approves_an_image_by_its_digest(
    oci_stages, signed_oci_prod, containerfile, oci_registry, tmp_path, release_engineer, approver
):
    commit = _dev_image(oci_registry, tmp_path, oci_stages, "41.1")
    status, body = post("/api/v1/promotions", token_for(release_engineer), {"checksum": f"sha256:{commit.checksum}"})
    assert status == 201, body
    assert body["checksum"] == commit.checksum
    status, body = post(f"/api/v1/promotions/{body['id']}/approve", token_for(approver), {"comment": "pilots fine"})
    assert status == 200, body
    assert body["state"] == "queued"

    assert promotion_run(promotion_id=body["id"]).state == Promotion.State.SUCCEEDED

    prod = ImageRepo(oci_registry.host, "prod/kinoite", tls_verify=False)
    assert Skopeo().resolve(prod, "stable") == f"sha256:{commit.checksum}"
    status, body = post("/api/v1/promotions", token_for(release_engineer), {"checksum": "sha256:" + "0" * 64})
    assert status == 400
    assert "is not in the dev repository" in body["error"]


def test_the_commands_promote_approve_and_roll_back_an_image(
    oci_stages, signed_oci_prod, containerfile, oci_registry, tmp_path, release_engineer, approver
):
    prod = ImageRepo(oci_registry.host, "prod/kinoite", tls_verify=False)
    out = StringIO()
    v1 = _dev_image(oci_registry, tmp_path, oci_stages, "41.1")
    call_command("promote", v1.checksum, "--as", release_engineer.username, stdout=out)
    first = Promotion.objects.get(commit=v1)
    call_command("approve", str(first.pk), "--as", approver.username, stdout=out)
    assert promotion_run(promotion_id=first.pk).state == Promotion.State.SUCCEEDED
    v2 = _dev_image(oci_registry, tmp_path, oci_stages, "41.2")
    call_command("promote", f"sha256:{v2.checksum}", "--as", release_engineer.username, stdout=out)
    second = Promotion.objects.get(commit=v2)
    call_command("approve", str(second.pk), "--as", approver.username, stdout=out)
    assert promotion_run(promotion_id=second.pk).state == Promotion.State.SUCCEEDED
    assert Skopeo().resolve(prod, "stable") == f"sha256:{v2.checksum}"

    call_command("rollback", v1.checksum, "--as", release_engineer.username, stdout=out)
    rollback = Promotion.objects.get(kind=Promotion.Kind.ROLLBACK)
    call_command("approve", str(rollback.pk), "--as", approver.username, stdout=out)
    assert promotion_run(promotion_id=rollback.pk).state == Promotion.State.SUCCEEDED

    assert Skopeo().resolve(prod, "stable") == f"sha256:{v1.checksum}"
    call_command("list_promotions", stdout=out)
    assert f"#{rollback.pk}" in out.getvalue()

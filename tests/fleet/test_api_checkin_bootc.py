"""Check-ins of bootc desktops: ``bootc status --json`` beside (or instead of) ``rpm-ostree status --json``.

bootc and rpm-ostree cannot run on the test machine: the reports are recorded documents in their exact shapes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from kinoite_portal.fleet.models import CheckIn, Host
from tests.fleet.helpers import (
    PROD_IMAGE,
    bootc_doc,
    bootc_entry,
    booted_on,
    deployment,
    fake_checksum,
    machine_id,
    status_doc,
)
from tests.fleet.test_api_checkin import post, snapshot
from tests.fleet.test_bootc_status_parser import recorded

BOOTED = fake_checksum("image-41.20261125.0")
STAGED = fake_checksum("image-41.20261201.0")
ROLLBACK = fake_checksum("image-41.20261115.0")
OSTREE_COMMIT = fake_checksum("ostree commit in the image")


def rpm_ostree_of_a_bootc_host() -> dict[str, Any]:
    """rpm-ostree's view of the same host: its ostree commit, and the image reference it was deployed from."""
    return status_doc(
        deployment(OSTREE_COMMIT, booted=True, origin=None, container=f"ostree-unverified-registry:{PROD_IMAGE}:stable")
    )


def bootc_report(name: str, bootc: Any, status: Any = "rpm-ostree", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"hostname": name, "machine_id": machine_id(name), "bootc": bootc, **extra}
    if status == "rpm-ostree":
        body["status"] = rpm_ostree_of_a_bootc_host()
    elif status is not None:
        body["status"] = status
    return body


@pytest.fixture
def host(finance: Any, enroll: Any) -> tuple[Host, str]:
    return enroll(finance, "fin-bootc")


def test_a_bootc_host_is_recorded_by_its_image_digests_and_the_tag_it_follows(
    host: tuple[Host, str], client: Client
) -> None:
    doc = bootc_doc(
        bootc_entry(BOOTED),
        staged=bootc_entry(STAGED, version="41.20261201.0"),
        rollback=bootc_entry(ROLLBACK, version="41.20261115.0"),
    )
    response = post(client, host[1], bootc_report("fin-bootc", doc, greenboot="green"))

    assert response.status_code == 200, response.content
    assert response.json()["booted_checksum"] == BOOTED
    saved = Host.objects.get(pk=host[0].pk)
    assert saved.booted_checksum == BOOTED  # the digest's hex, not the ostree commit rpm-ostree reports
    assert saved.booted_version == "41.20261125.0"
    assert saved.booted_origin == f"{PROD_IMAGE}:stable"
    assert (saved.booted_remote, saved.booted_ref) == (PROD_IMAGE, "stable")
    assert saved.booted_is_container
    assert (saved.staged_checksum, saved.staged_version) == (STAGED, "41.20261201.0")
    assert (saved.rollback_checksum, saved.rollback_version) == (ROLLBACK, "41.20261115.0")
    assert saved.image_signature == "container-policy"
    assert not saved.accepts_unsigned
    assert saved.health == "green"
    assert [d["image_checksum"] for d in saved.deployments] == [STAGED, BOOTED, ROLLBACK]
    checkin = CheckIn.objects.get(host=saved)
    assert checkin.booted_checksum == BOOTED
    assert checkin.report["bootc"] == doc


@pytest.mark.parametrize(("name", "policy"), [("v1alpha1-insecure", "insecure"), ("v1-unverified", "unverified")])
def test_a_host_that_would_boot_an_unsigned_image_is_flagged(
    host: tuple[Host, str], client: Client, name: str, policy: str
) -> None:
    assert post(client, host[1], bootc_report("fin-bootc", recorded(name))).status_code == 200
    saved = Host.objects.get(pk=host[0].pk)
    assert saved.image_signature == policy
    assert saved.accepts_unsigned


def test_a_bootc_report_without_rpm_ostree_is_enough(host: tuple[Host, str], client: Client) -> None:
    response = post(client, host[1], bootc_report("fin-bootc", recorded("v1-signed"), status=None))
    assert response.status_code == 200, response.content
    saved = Host.objects.get(pk=host[0].pk)
    assert saved.booted_checksum == "8ee4c90e988b4a97e05025d1d30426215e1fc26446599f1eb3ad288acfd3384c"
    assert (saved.booted_remote, saved.booted_ref) == ("registry.example.com:5000/prod/kinoite", "stable")
    assert saved.booted_default


def test_bootc_on_a_system_it_did_not_deploy_leaves_the_host_to_rpm_ostree(
    host: tuple[Host, str], client: Client
) -> None:
    head = fake_checksum("head")
    response = post(client, host[1], bootc_report("fin-bootc", recorded("v1-not-bootc"), status=booted_on(head)))
    assert response.status_code == 200, response.content
    saved = Host.objects.get(pk=host[0].pk)
    assert saved.booted_checksum == head
    assert not saved.booted_is_container
    assert saved.image_signature == ""


def test_a_host_that_leaves_bootc_for_an_ostree_remote_loses_its_signature_flag(
    host: tuple[Host, str], client: Client
) -> None:
    assert post(client, host[1], bootc_report("fin-bootc", recorded("v1alpha1-insecure"))).status_code == 200
    assert Host.objects.get(pk=host[0].pk).accepts_unsigned
    body = {"hostname": "fin-bootc", "machine_id": machine_id("fin-bootc"), "status": booted_on(fake_checksum("h"))}
    assert post(client, host[1], body).status_code == 200
    saved = Host.objects.get(pk=host[0].pk)
    assert (saved.image_signature, saved.booted_is_container) == ("", False)


def broken_digest() -> dict[str, Any]:
    doc = bootc_doc(bootc_entry(BOOTED))
    doc["status"]["booted"]["image"]["imageDigest"] = "sha256:nothex"
    return doc


@pytest.mark.parametrize(
    ("body", "error", "detail"),
    [
        (bootc_report("fin-bootc", broken_digest()), "invalid_bootc", "'imageDigest' must be sha256:"),
        (bootc_report("fin-bootc", {"kind": "Pod"}), "invalid_bootc", "BootcHost"),
        (bootc_report("fin-bootc", "bootc status"), "invalid_bootc", "BootcHost"),
        (bootc_report("fin-bootc", recorded("v1-not-bootc"), status=None), "missing_field", "no booted image"),
        (bootc_report("fin-bootc", None, status=None), "missing_field", "'status' is required"),
        (bootc_report("fin-bootc", recorded("v1-signed"), status=status_doc()), "invalid_status", "is empty"),
    ],
)
def test_a_malformed_bootc_report_is_refused_with_400_and_changes_nothing(
    host: tuple[Host, str], client: Client, body: dict[str, Any], error: str, detail: str
) -> None:
    assert post(client, host[1], bootc_report("fin-bootc", recorded("v1-signed"))).status_code == 200
    before = snapshot()
    response = post(client, host[1], body)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == error
    assert detail in response.json()["detail"]
    assert snapshot() == before


def test_an_oversized_bootc_report_is_refused_with_413_and_changes_nothing(
    host: tuple[Host, str], client: Client, settings: Any
) -> None:
    before = snapshot()
    doc = bootc_doc(bootc_entry(BOOTED, padding="x" * settings.PORTAL_CHECKIN_MAX_BYTES))
    response = post(client, host[1], None, raw=json.dumps(bootc_report("fin-bootc", doc)).encode())
    assert response.status_code == 413
    assert snapshot() == before

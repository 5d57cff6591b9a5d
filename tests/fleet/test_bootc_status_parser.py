"""``bootc status --json`` parsing, on documents in the exact shape bootc prints (tests/fleet/data/README.md).

bootc cannot run on the test machine: these are recorded documents, not bootc's live output.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinoite_portal.fleet.status_parser import (
    Signature,
    StatusError,
    parse_bootc_status,
    parse_ostree_image_reference,
    parse_status,
    split_image,
)
from tests.fleet.helpers import bootc_doc, bootc_entry, deployment, fake_checksum, status_doc

DATA = Path(__file__).with_name("data")


def recorded(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"bootc-status-{name}.json").read_text())


def test_it_reads_booted_staged_and_rollback_digests_versions_and_the_followed_tag() -> None:
    status = parse_bootc_status(recorded("v1-signed"))

    assert status.booted is not None
    assert status.staged is not None
    assert status.rollback is not None
    assert status.booted.digest == "8ee4c90e988b4a97e05025d1d30426215e1fc26446599f1eb3ad288acfd3384c"
    assert status.booted.version == "41.20261125.0"
    assert status.booted.timestamp == datetime(2026, 11, 25, 4, 38, 57, tzinfo=UTC)
    assert status.booted.ostree_checksum == "0b0d3efa8f92c25fada4c324b30ecd0851d4b5a4d0965107a88fc6ca39e9d3fa"
    # bootc writes the digest as the registry gave it; the portal stores checksums lowercased.
    assert status.staged.digest == "4a1d0f7c3b2e8d9a6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170615"
    assert status.staged.version == "41.20261201.0"
    assert status.booted.cached_update_digest == status.staged.digest
    assert status.rollback.digest == "736b359467c9437c1ac915acaae952aad854e07eb4a16a94999a48af08c83c34"
    assert status.rollback.pinned
    image = status.booted.image
    assert (image.registry, image.repository, image.tag) == ("registry.example.com:5000", "prod/kinoite", "stable")
    assert image.source == "registry.example.com:5000/prod/kinoite"
    assert status.signature == Signature.CONTAINER_POLICY
    assert [d["image_checksum"] for d in status.summaries()] == [
        status.staged.digest,
        status.booted.digest,
        status.rollback.digest,
    ]
    assert [(d["staged"], d["booted"]) for d in status.summaries()] == [(True, False), (False, True), (False, False)]


def test_it_reads_an_older_v1alpha1_document_and_flags_its_insecure_policy() -> None:
    status = parse_bootc_status(recorded("v1alpha1-insecure"))

    assert status.booted is not None
    assert status.booted.digest == "16dc2b6256b4ff0d2ec18d2dbfb06d117904010c8cf9732cdb022818cf7a7566"
    assert status.booted.architecture == ""
    assert status.staged is None
    assert status.rollback is None
    assert status.booted.image.source == "quay.io/example/kinoite"
    assert status.booted.image.tag == "latest"
    assert status.signature == Signature.INSECURE
    assert status.signature in Signature.ACCEPTS_UNSIGNED


def test_an_image_fetched_without_signature_verification_counts_as_unverified() -> None:
    status = parse_bootc_status(recorded("v1-unverified"))

    assert status.booted is not None
    assert status.booted.timestamp is None
    assert status.signature == Signature.UNVERIFIED
    assert status.signature in Signature.ACCEPTS_UNSIGNED


def test_the_policy_of_the_next_upgrade_is_the_specs_not_the_booted_images() -> None:
    # After `bootc switch --enforce-container-sigpolicy`, the spec verifies; the booted image was fetched unverified.
    doc = bootc_doc(bootc_entry(fake_checksum("a"), signature=None))
    doc["spec"]["image"] = {"image": "registry.example.com/prod/kinoite:stable", "transport": "registry",
                            "signature": "containerPolicy"}  # fmt: skip
    assert parse_bootc_status(doc).signature == Signature.CONTAINER_POLICY
    doc["spec"]["image"] = None
    assert parse_bootc_status(doc).signature == Signature.UNVERIFIED
    doc = bootc_doc(bootc_entry(fake_checksum("a"), signature={"ostreeRemote": "fedora"}))
    assert parse_bootc_status(doc).signature == Signature.OSTREE_REMOTE


def test_a_system_bootc_did_not_deploy_has_no_booted_image() -> None:
    status = parse_bootc_status(recorded("v1-not-bootc"))
    assert status.booted is None
    assert status.summaries() == []


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("registry.example.com/prod/kinoite:stable", ("registry.example.com", "prod/kinoite", "stable")),
        ("localhost:5000/prod/kinoite:41", ("localhost:5000", "prod/kinoite", "41")),
        ("localhost/kinoite:latest", ("localhost", "kinoite", "latest")),
        ("quay.io/fedora/fedora-kinoite", ("quay.io", "fedora/fedora-kinoite", "")),
        ("fedora:41", ("docker.io", "library/fedora", "41")),
        ("someone/kinoite:stable", ("docker.io", "someone/kinoite", "stable")),
        (f"registry.example.com/prod/kinoite@sha256:{'a' * 64}", ("registry.example.com", "prod/kinoite", "")),
        (f"registry.example.com/prod/kinoite:stable@sha256:{'a' * 64}", ("registry.example.com", "prod/kinoite", "")),
    ],
)
def test_it_splits_image_references_as_containers_image_normalises_them(image: str, expected: Any) -> None:
    assert split_image(image) == expected


def test_an_image_from_another_transport_follows_no_registry_tag() -> None:
    doc = bootc_doc(bootc_entry(fake_checksum("a")))
    doc["status"]["booted"]["image"]["image"] = {"image": "/var/mnt/osupdate", "transport": "oci"}
    booted = parse_bootc_status(doc).booted
    assert booted is not None
    assert (booted.image.source, booted.image.tag, booted.image.origin) == ("", "", "oci:/var/mnt/osupdate")


def booted_image(doc: dict[str, Any]) -> dict[str, Any]:
    image: dict[str, Any] = doc["status"]["booted"]["image"]
    return image


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(kind="Deployment"), "must be the BootcHost object"),
        (lambda d: d.update(apiVersion="org.containers.bootc/v2"), "'bootc.apiVersion' must be one of"),
        (lambda d: d.update(status=[]), "must be objects"),
        (lambda d: booted_image(d).update(imageDigest="sha256:" + "z" * 64), "'imageDigest' must be sha256:"),
        (lambda d: booted_image(d).update(imageDigest="sha512:" + "a" * 64), "'imageDigest' must be sha256:"),
        (lambda d: booted_image(d).pop("imageDigest"), "'imageDigest' must be sha256:"),
        (lambda d: booted_image(d).update(timestamp="yesterday"), "RFC 3339"),
        (lambda d: booted_image(d).update(timestamp=1764028800), "RFC 3339"),
        (lambda d: booted_image(d).update(version="4" * 101), "at most 100"),
        (lambda d: booted_image(d)["image"].update(image="x" * 300), "at most 255"),
        (lambda d: booted_image(d)["image"].update(image="Registry.example.com/Prod/Kinoite:stable"), "lowercase"),
        (lambda d: booted_image(d)["image"].update(image="registry.example.com/prod/kinoite:bad tag"), "tag"),
        (lambda d: booted_image(d)["image"].pop("transport"), "'image' and 'transport' are required"),
        (lambda d: booted_image(d)["image"].update(signature="trustMe"), "'signature' must be"),
        (lambda d: booted_image(d)["image"].update(signature={"ostreeRemote": 1}), "'signature' must be"),
        (lambda d: d["status"]["booted"].update(pinned="no"), "'pinned' must be true or false"),
        (lambda d: d["status"]["booted"].update(ostree={"checksum": "abc"}), "64 hexadecimal"),
        (lambda d: d["status"].update(staged="soon"), "must be an object or null"),
        (lambda d: d["status"].update(otherDeployments=[{}] * 40), "at most 32"),
        (lambda d: d["spec"].update(image={"image": "x"}), "'image' and 'transport' are required"),
    ],
)
def test_it_refuses_malformed_documents_with_a_clear_message(mutate: Any, message: str) -> None:
    doc = copy.deepcopy(recorded("v1-signed"))
    mutate(doc)
    with pytest.raises(StatusError, match=message):
        parse_bootc_status(doc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=80),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
image_keys = st.sampled_from(["image", "imageDigest", "version", "timestamp", "architecture", "transport", "signature"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    booted=json_values
    | st.fixed_dictionaries({"image": st.dictionaries(image_keys, json_values | st.just("registry"), max_size=6)}),
    spec=json_values,
)
def test_random_documents_either_parse_or_raise_status_error(booted: Any, spec: Any) -> None:
    doc = bootc_doc(bootc_entry(fake_checksum("a")))
    doc["status"]["booted"] = booted
    doc["spec"]["image"] = spec
    status, message = None, ""
    try:
        status = parse_bootc_status(doc)
    except StatusError as exc:
        message = str(exc)
    if status is None:
        assert message  # refused, saying why
        return
    if status.booted is not None:
        assert len(status.booted.digest) == 64


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (
            "ostree-image-signed:docker://registry.example.com/prod/kinoite:stable",
            ("registry", "registry.example.com/prod/kinoite", "stable", Signature.CONTAINER_POLICY),
        ),
        (
            "ostree-unverified-registry:quay.io/fedora/fedora-kinoite:41",
            ("registry", "quay.io/fedora/fedora-kinoite", "41", Signature.UNVERIFIED),
        ),
        (
            "ostree-unverified-image:docker://quay.io/fedora/fedora-kinoite:41",
            ("registry", "quay.io/fedora/fedora-kinoite", "41", Signature.UNVERIFIED),
        ),
        (
            "ostree-remote-image:fedora:docker://quay.io/fedora/fedora-kinoite:41",
            ("registry", "quay.io/fedora/fedora-kinoite", "41", Signature.OSTREE_REMOTE),
        ),
        (
            "ostree-remote-registry:fedora:quay.io/fedora/fedora-kinoite:41",
            ("registry", "quay.io/fedora/fedora-kinoite", "41", Signature.OSTREE_REMOTE),
        ),
        ("ostree-unverified-image:oci:/var/mnt/osupdate", ("oci", "", "", Signature.UNVERIFIED)),
    ],
)
def test_it_reads_rpm_ostrees_container_image_references(reference: str, expected: Any) -> None:
    image = parse_ostree_image_reference(reference)
    assert image is not None
    assert (image.transport, image.source, image.tag, image.signature) == expected


@pytest.mark.parametrize(
    "reference", ["quay.io/x:41", "docker://quay.io/x:41", "ostree-remote-image:fedora", "ostree-image-signed:"]
)
def test_a_container_reference_in_no_form_it_knows_is_left_unmatched(reference: str) -> None:
    assert parse_ostree_image_reference(reference) is None


def test_rpm_ostree_reports_the_container_images_digest_beside_its_reference() -> None:
    reference = "ostree-image-signed:docker://registry.example.com/prod/kinoite:stable"
    doc = status_doc(
        deployment(fake_checksum("ostree"), booted=True, origin=None, container=reference),
    )
    doc["deployments"][0]["container-image-reference-digest"] = "sha256:" + "AB" * 32
    booted = parse_status(doc).booted
    assert booted.image_digest == "ab" * 32
    assert booted.summary()["image_checksum"] == "ab" * 32
    doc["deployments"][0]["container-image-reference-digest"] = "sha256:short"
    with pytest.raises(StatusError, match="'container-image-reference-digest' must be sha256:"):
        parse_status(doc)

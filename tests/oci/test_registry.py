"""skopeo against a real registry: images found by tag and known by digest, copied by digest and signed."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kinoite_portal.oci.registry import (
    ImageNotFound,
    ImageRepo,
    RegistryError,
    Skopeo,
    signature_dir,
    validate_digest,
)
from kinoite_portal.ostree import ListLog, gpg
from tests.oci_registry import Registry, build_image


@pytest.fixture
def gnupg_home() -> Iterator[tuple[str, Path]]:
    """A signing key in a short GnuPG home (gpg-agent's socket path must stay under ~100 characters)."""
    home = Path(tempfile.mkdtemp(prefix="kpo-", dir="/tmp"))
    fingerprint = gpg.generate_key(home, "Prod images (test)", "prod@portal.invalid")
    yield fingerprint, home
    gpg.kill_agent(home)
    shutil.rmtree(home, ignore_errors=True)


def _two_layer_image(registry: Registry, tmp_path: Path, tag: str = "latest", version: str = "41.20261130.0") -> str:
    return build_image(
        registry=registry,
        repository="dev/kinoite",
        tag=tag,
        layers=[{"usr/lib/os-release": "NAME=Kinoite\n"}, {"usr/share/kinoite/version": version}],
        labels={"version": version, "ostree.commit": "ab" * 32, "containers.bootc": "1"},
        workdir=tmp_path,
    )


def test_an_image_found_by_tag_is_known_by_its_digest_with_labels_layers_and_creation_time(
    oci_registry: Registry, tmp_path: Path
) -> None:
    digest = _two_layer_image(oci_registry, tmp_path)
    dev = ImageRepo(oci_registry.host, "dev/kinoite", tls_verify=False)
    info = Skopeo().inspect(dev, tag="latest")
    assert info.digest == digest
    assert info.hex == digest.removeprefix("sha256:")
    assert info.version == "41.20261130.0"
    assert info.ostree_commit == "ab" * 32
    assert len(info.layers) == 2
    assert info.created is not None
    assert info.created.tzinfo is not None
    assert Skopeo().inspect(dev, digest=digest).digest == digest
    assert Skopeo().tags(dev) == ["latest"]


def test_a_missing_tag_or_digest_is_reported_as_missing(oci_registry: Registry, tmp_path: Path) -> None:
    _two_layer_image(oci_registry, tmp_path)
    dev = ImageRepo(oci_registry.host, "dev/kinoite", tls_verify=False)
    assert Skopeo().resolve(dev, "no-such-tag") is None
    assert Skopeo().has_image(dev, "0" * 64) is False
    with pytest.raises(ImageNotFound):
        Skopeo().inspect(ImageRepo(oci_registry.host, "nothing/here", tls_verify=False), tag="latest")
    assert Skopeo().tags(ImageRepo(oci_registry.host, "nothing/here", tls_verify=False)) == []


@pytest.mark.parametrize(
    ("registry", "repository"),
    [("https://quay.io", "a/b"), ("quay.io/x", "a/b"), ("quay.io", "Upper/Case"), ("quay.io", "a//b"), ("", "a")],
)
def test_a_registry_or_repository_that_is_not_a_name_is_refused(registry: str, repository: str) -> None:
    with pytest.raises(RegistryError):
        ImageRepo(registry, repository)


@pytest.mark.parametrize("value", ["latest", "sha256:abc", "sha512:" + "a" * 64, "a" * 63, "; rm -rf /"])
def test_anything_but_a_sha256_digest_is_refused(value: str) -> None:
    with pytest.raises(RegistryError, match="digest"):
        validate_digest(value)


def test_copy_by_digest_signs_for_the_tag_and_the_tag_moves_only_when_asked(
    oci_registry: Registry, tmp_path: Path, gnupg_home: tuple[str, Path]
) -> None:
    fingerprint, home = gnupg_home
    digest = _two_layer_image(oci_registry, tmp_path)
    dev = ImageRepo(oci_registry.host, "dev/kinoite", tls_verify=False)
    prod = ImageRepo(oci_registry.host, "prod/kinoite", tls_verify=False)
    log = ListLog()
    skopeo = Skopeo(log=log, sigstore=tmp_path / "sigstore")

    skopeo.copy_signed(dev, digest, prod, sign_tag="stable", fingerprint=fingerprint, gnupg_home=home)

    assert skopeo.has_image(prod, digest)
    assert skopeo.resolve(prod, "stable") is None  # copied by digest: no tag moved yet
    assert [p.name for p in skopeo.signature_paths(prod, digest)] == ["signature-1"]
    assert signature_dir(tmp_path / "sigstore", prod, digest).parent == tmp_path / "sigstore" / "prod"
    assert skopeo.signed_for(prod, digest, "stable", fingerprint=fingerprint, gnupg_home=home)
    # A simple signature names its tag: the same digest is not signed for another one.
    assert not skopeo.signed_for(prod, digest, "testing", fingerprint=fingerprint, gnupg_home=home)
    assert any("--preserve-digests" in c and f"@{digest}" in c for c in log.commands)

    skopeo.tag(prod, digest, "stable")

    assert skopeo.resolve(prod, "stable") == digest
    # Moving the tag neither removed nor rewrote the signature.
    assert [p.name for p in skopeo.signature_paths(prod, digest)] == ["signature-1"]


def test_signing_again_in_place_adds_a_signature_and_keeps_the_first(
    oci_registry: Registry, tmp_path: Path, gnupg_home: tuple[str, Path]
) -> None:
    fingerprint, home = gnupg_home
    digest = _two_layer_image(oci_registry, tmp_path)
    dev = ImageRepo(oci_registry.host, "dev/kinoite", tls_verify=False)
    prod = ImageRepo(oci_registry.host, "prod/kinoite", tls_verify=False)
    skopeo = Skopeo(sigstore=tmp_path / "sigstore")
    skopeo.copy_signed(dev, digest, prod, sign_tag="stable", fingerprint=fingerprint, gnupg_home=home)
    skopeo.copy_signed(prod, digest, prod, sign_tag="rollback", fingerprint=fingerprint, gnupg_home=home)
    assert len(skopeo.signature_paths(prod, digest)) == 2
    assert skopeo.signed_for(prod, digest, "stable", fingerprint=fingerprint, gnupg_home=home)
    assert skopeo.signed_for(prod, digest, "rollback", fingerprint=fingerprint, gnupg_home=home)


def test_copying_a_digest_the_source_does_not_hold_fails_and_changes_nothing(
    oci_registry: Registry, tmp_path: Path, gnupg_home: tuple[str, Path]
) -> None:
    fingerprint, home = gnupg_home
    _two_layer_image(oci_registry, tmp_path)
    dev = ImageRepo(oci_registry.host, "dev/kinoite", tls_verify=False)
    prod = ImageRepo(oci_registry.host, "prod/kinoite", tls_verify=False)
    skopeo = Skopeo(sigstore=tmp_path / "sigstore")
    with pytest.raises(RegistryError.__mro__[1]):  # OstreeError: CommandError from skopeo
        skopeo.copy_signed(dev, "1" * 64, prod, sign_tag="stable", fingerprint=fingerprint, gnupg_home=home)
    assert skopeo.tags(prod) == []
    assert skopeo.signature_paths(prod, "1" * 64) == []

"""A desktop's verifying pull with the trust policy the client setup page generates, against the real registry.

skopeo stands in for bootc here (bootc does not run on Debian): both read policy.json and registries.d through the
same containers/image library, and ``bootc switch --enforce-container-sigpolicy`` refuses what this copy refuses.
The signatures come over HTTP from the portal's own /sigstore/ URL, as they would on a desktop.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest
from django.urls import reverse

from kinoite_portal.fleet.client_setup import oci_policy, oci_registries_d, sigstore_url, stage_setups
from kinoite_portal.oci.registry import ImageRepo, Skopeo
from kinoite_portal.releases.models import Promotion, Stage
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.images import image_record
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run
from tests.oci_registry import Registry, build_image, push_dev_image

pytestmark = pytest.mark.django_db(transaction=True)


def _pull(policy: Path, registries_d: Path, image: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "skopeo",
            "--policy",
            str(policy),
            "--registries.d",
            str(registries_d),
            "copy",
            "--src-tls-verify=false",
            f"docker://{image}",
            f"dir:{out}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_generated_policy_accepts_the_signed_prod_image_and_refuses_unsigned_and_re_tagged_ones(
    oci_stages,
    signed_oci_prod,
    containerfile,
    oci_registry: Registry,
    tmp_path,
    settings,
    live_server,
    release_engineer,
    approver,
):
    settings.PORTAL_PUBLIC_URL = live_server.url
    push_dev_image(oci_registry, tmp_path)
    commit = image_record(stage=oci_stages["dev"], tag="latest")
    assert commit is not None
    promotion = approval_grant(
        user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
    )
    assert promotion_run(promotion_id=promotion.pk).state == Promotion.State.SUCCEEDED
    prod = ImageRepo(oci_registry.host, "prod/kinoite", tls_verify=False)
    # The signed digest under another tag, and an image nobody signed, in the same repository.
    Skopeo().tag(prod, commit.checksum, "retagged")
    build_image(
        registry=oci_registry,
        repository="prod/kinoite",
        tag="unsigned",
        layers=[{"usr/lib/os-release": "NAME=Other\n"}],
        workdir=tmp_path / "other",
    )
    # The desktop's files, exactly as generated, with the key fetched from the URL the page gives.
    key_path = tmp_path / "desktop" / "prod.asc"
    key_path.parent.mkdir()
    with urllib.request.urlopen(live_server.url + reverse("releases:stage_public_key", args=["prod"])) as answer:
        key_path.write_bytes(answer.read())
    policy = tmp_path / "desktop" / "policy.json"
    policy.write_text(json.dumps(oci_policy(signed_oci_prod, key_path=str(key_path))))
    registries_d = tmp_path / "desktop" / "registries.d"
    registries_d.mkdir()
    (registries_d / "kinoite-portal-prod.yaml").write_text(oci_registries_d(signed_oci_prod))
    assert sigstore_url(signed_oci_prod) in (registries_d / "kinoite-portal-prod.yaml").read_text()

    accepted = _pull(policy, registries_d, f"{prod.name}:stable", tmp_path / "out-stable")
    assert accepted.returncode == 0, accepted.stderr
    assert (tmp_path / "out-stable" / "manifest.json").is_file()

    unsigned = _pull(policy, registries_d, f"{prod.name}:unsigned", tmp_path / "out-unsigned")
    assert unsigned.returncode != 0
    assert "rejected" in unsigned.stderr

    retagged = _pull(policy, registries_d, f"{prod.name}:retagged", tmp_path / "out-retagged")
    assert retagged.returncode != 0
    assert f"Signature for identity {prod.name}:stable is not accepted" in retagged.stderr

    dev = _pull(policy, registries_d, f"{oci_registry.host}/dev/kinoite:latest", tmp_path / "out-dev")
    assert dev.returncode != 0  # the rest of the portal's registry is refused
    assert "rejected" in dev.stderr


def test_the_setup_page_gives_an_oci_stage_its_policy_lookaside_and_bootc_switch(
    oci_stages, signed_oci_prod, oci_registry: Registry, client_for, release_engineer, settings
):
    settings.PORTAL_PUBLIC_URL = "https://portal.example.com"
    page = client_for(release_engineer).get(reverse("fleet:client_setup")).content.decode()
    assert f"bootc switch --enforce-container-sigpolicy {oci_registry.host}/prod/kinoite:stable" in page
    assert "cat &gt; /etc/containers/policy.json" in page
    assert "&quot;signedBy&quot;" in page
    assert "/etc/pki/containers/kinoite-portal-prod.asc" in page
    assert "lookaside: &quot;https://portal.example.com/sigstore/prod&quot;" in page
    assert "bootc upgrade" in page
    # dev has no key: no enforced policy is offered for it, and the page says why.
    (dev,) = [s for s in stage_setups([oci_stages["dev"]])]
    assert "--enforce-container-sigpolicy" not in dev.rebase_command.text
    assert "no signing key" in page


def test_the_sigstore_serves_signatures_only(oci_stages: dict[str, Stage], client, settings) -> None:
    store = Path(settings.PORTAL_SIGSTORE_ROOT) / "prod" / ("prod/kinoite@sha256=" + "a" * 64)
    store.mkdir(parents=True)
    (store / "signature-1").write_bytes(b"\x01signed")
    (store.parent / "secret.txt").write_text("no")
    url = f"/sigstore/prod/prod/kinoite@sha256={'a' * 64}/signature-1"
    answer = client.get(url)
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content) == b"\x01signed"
    assert client.get("/sigstore/prod/prod/secret.txt").status_code == 404
    assert client.get(f"/sigstore/prod/prod/kinoite@sha256={'a' * 64}/../../secret.txt").status_code == 404
    assert client.post(url).status_code == 405

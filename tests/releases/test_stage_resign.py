"""A key attached to a stage that already publishes: its heads and summary are signed at once by the repo worker."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.ostree import Repo
from kinoite_portal.releases.errors import SigningKeyError
from kinoite_portal.releases.models import Promotion, Stage
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run
from kinoite_portal.releases.services.signing import (
    signing_key_generate,
    stage_resign,
    stage_signing_key_set,
)
from tests.releases.conftest import REF_STABLE
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def ostree(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ostree", *args], capture_output=True, text=True, timeout=120)


def publish_unsigned(make_dev_commit, release_engineer, approver, *versions: str) -> list[str]:
    """Promote each version into prod, which has no key yet, and return the published checksums."""
    published = []
    for version in versions:
        commit = make_dev_commit(version)
        promotion = approval_grant(
            user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
        )
        assert promotion_run(promotion_id=promotion.pk).state == Promotion.State.SUCCEEDED
        published.append(commit.checksum)
    return published


def verifying_client_pull(stage: Stage, tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    """Pull the stage's published ref as a desktop with gpg-verify and gpg-verify-summary on would."""
    stage.refresh_from_db()
    key_file = tmp_path / f"{name}.asc"
    key_file.write_text(stage.signing_key.public_key)
    client = tmp_path / name
    assert ostree("init", "--mode=archive", f"--repo={client}").returncode == 0
    added = ostree(
        "remote",
        "add",
        f"--repo={client}",
        "--set=gpg-verify=true",
        "--set=gpg-verify-summary=true",
        f"--gpg-import={key_file}",
        "prod",
        f"file://{stage.repo_dir}",
    )
    assert added.returncode == 0, added.stderr
    return ostree("pull", f"--repo={client}", "prod", REF_STABLE)


def test_it_signs_the_current_head_and_summary_when_a_key_is_attached(
    stages, make_dev_commit, release_engineer, approver, short_gnupg_root, celery_worker, tmp_path
):
    first, second = publish_unsigned(make_dev_commit, release_engineer, approver, "41.20261120.0", "41.20261125.0")
    prod = Repo(stages["prod"].repo_dir)
    assert prod.signature_key_ids(second) == []
    assert f"{first}-{second}" in prod.static_deltas()

    key = signing_key_generate(stage=stages["prod"])

    wait_until(lambda: AuditEvent.objects.filter(action="signing_key.resign").exists(), timeout=60, message="re-signed")
    assert prod.signature_key_ids(second) == [key.fingerprint[-16:]]
    assert prod.signature_key_ids(first) == []  # no longer published: nobody pulls it
    assert (stages["prod"].repo_dir / "summary.sig").is_file()
    event = AuditEvent.objects.get(action="signing_key.resign")
    assert event.data["signed"] == [second]
    assert event.data["deltas"] == [f"{first}-{second}"]
    pulled = verifying_client_pull(stages["prod"], tmp_path, "client")
    assert pulled.returncode == 0, pulled.stderr + celery_worker.log()


def test_a_replaced_key_signs_again_and_clients_of_the_new_key_pull(
    stages, make_dev_commit, release_engineer, approver, short_gnupg_root, tmp_path
):
    (head,) = publish_unsigned(make_dev_commit, release_engineer, approver, "41.20261125.0")
    old = signing_key_generate(stage=stages["prod"], queue_resign=False)
    stage_resign(stage=stages["prod"])
    new = signing_key_generate(stage=Stage.objects.get(name="dev"), name="spare", queue_resign=False)

    stage_signing_key_set(stage=stages["prod"], key=new)
    report = stage_resign(stage=stages["prod"])

    assert report.signed == [head]
    assert Repo(stages["prod"].repo_dir).signature_key_ids(head) == [old.fingerprint[-16:], new.fingerprint[-16:]]
    assert stage_resign(stage=stages["prod"]).signed == []  # twice is harmless: no duplicate signature
    pulled = verifying_client_pull(stages["prod"], tmp_path, "client")
    assert pulled.returncode == 0, pulled.stderr


def test_resigning_a_stage_without_a_key_is_refused_and_changes_nothing(
    stages, make_dev_commit, release_engineer, approver, tmp_path
):
    (head,) = publish_unsigned(make_dev_commit, release_engineer, approver, "41.20261125.0")
    summary_before = (stages["prod"].repo_dir / "summary").read_bytes()

    with pytest.raises(SigningKeyError, match="prod has no signing key; nothing was signed"):
        stage_resign(stage=stages["prod"])

    assert (stages["prod"].repo_dir / "summary").read_bytes() == summary_before
    assert not (stages["prod"].repo_dir / "summary.sig").exists()
    assert Repo(stages["prod"].repo_dir).signature_key_ids(head) == []


def test_a_gnupg_folder_too_deep_for_the_agent_socket_gets_a_clear_error_and_nothing_changes(
    stages, settings, tmp_path
):
    settings.PORTAL_GNUPG_ROOT = tmp_path / ("deep-" * 20)

    with pytest.raises(SigningKeyError, match="Set PORTAL_GNUPG_ROOT to a shorter folder"):
        signing_key_generate(stage=stages["prod"])

    assert Stage.objects.get(name="prod").signing_key is None
    assert list(settings.PORTAL_GNUPG_ROOT.iterdir()) == []

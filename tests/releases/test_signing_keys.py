"""Stage signing keys: generated or imported, the secret never shown, a key that cannot sign refused."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kinoite_portal.ostree import Repo, gpg
from kinoite_portal.releases.errors import SigningKeyError
from kinoite_portal.releases.models import Promotion, RefUpdate, SigningKey, Stage
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run
from kinoite_portal.releases.services.signing import signing_key_generate, signing_key_import

pytestmark = pytest.mark.django_db(transaction=True)


def protected_secret_key(home: Path) -> str:
    """Return an armored secret key that needs a passphrase (so it cannot sign unattended)."""
    home.mkdir(mode=0o700)
    base = ["gpg", f"--homedir={home}", "--batch", "--pinentry-mode=loopback", "--passphrase=s3cret"]
    subprocess.run(
        [*base, "--quick-gen-key", "Locked <locked@portal.invalid>", "rsa2048", "sign", "never"],
        check=True,
        capture_output=True,
    )
    out = subprocess.run([*base, "--armor", "--export-secret-keys"], check=True, capture_output=True, text=True)
    return out.stdout


def test_a_generated_key_signs_and_only_its_public_half_is_served(stages, short_gnupg_root, client):
    key = signing_key_generate(stage=stages["prod"])

    assert Stage.objects.get(name="prod").signing_key == key
    assert gpg.can_sign(key.gnupg_home, key.fingerprint)
    assert Path(key.gnupg_home).is_relative_to(short_gnupg_root)
    response = client.get("/releases/stages/prod/key.asc")  # anonymous: clients fetch it
    assert response.status_code == 200
    body = response.content.decode()
    assert "BEGIN PGP PUBLIC KEY BLOCK" in body
    assert "PRIVATE" not in body
    assert client.get("/releases/stages/dev/key.asc").status_code == 404


def test_it_refuses_to_import_a_key_that_cannot_sign_and_changes_nothing(stages, short_gnupg_root, tmp_path):
    armored = protected_secret_key(Path("/tmp") / f"kpl-{tmp_path.name[-8:]}")
    try:
        with pytest.raises(SigningKeyError, match="cannot sign"):
            signing_key_import(stage=stages["prod"], armored=armored)
        with pytest.raises(SigningKeyError, match="Could not import"):
            signing_key_import(stage=stages["prod"], armored="-----BEGIN PGP PUBLIC KEY BLOCK-----")
    finally:
        home = Path("/tmp") / f"kpl-{tmp_path.name[-8:]}"
        gpg.kill_agent(home)
        shutil.rmtree(home, ignore_errors=True)
    assert Stage.objects.get(name="prod").signing_key is None
    assert not SigningKey.objects.exists()
    assert list(short_gnupg_root.iterdir()) == []


def test_a_stage_whose_key_stopped_signing_fails_the_promotion_before_moving_anything(
    signed_prod, make_dev_commit, stages, release_engineer, approver
):
    commit = make_dev_commit("41.20261125.0")
    promotion = approval_grant(
        user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
    )
    home = Path(signed_prod.signing_key.gnupg_home)
    gpg.kill_agent(home)
    shutil.rmtree(home / "private-keys-v1.d")  # the secret key is gone from the repo host

    promotion = promotion_run(promotion_id=promotion.pk)

    assert promotion.state == Promotion.State.FAILED
    assert "cannot sign" in promotion.failure_reason
    assert Repo(stages["prod"].repo_dir).refs() == {}
    assert not RefUpdate.objects.filter(ref__stage=stages["prod"]).exists()


def test_a_commit_is_signed_once_even_when_the_run_repeats(
    signed_prod, make_dev_commit, stages, release_engineer, approver
):
    commit = make_dev_commit("41.20261125.0")
    promotion = approval_grant(
        user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
    )
    promotion_run(promotion_id=promotion.pk)
    # Pretend the worker died after signing: the row is back to running and the task runs again.
    Promotion.objects.filter(pk=promotion.pk).update(state=Promotion.State.RUNNING)

    promotion = promotion_run(promotion_id=promotion.pk)

    assert promotion.state == Promotion.State.SUCCEEDED
    assert "earlier attempt published it" in promotion.log
    assert len(Repo(stages["prod"].repo_dir).signature_key_ids(commit.checksum)) == 1

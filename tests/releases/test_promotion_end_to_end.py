"""Dev commit -> request -> approve via the htmx view -> a real worker promotes -> a gpg-verifying client pulls."""

from __future__ import annotations

import json
import subprocess

import pytest

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Promotion
from kinoite_portal.releases.services.promotions import promotion_request
from tests.releases.conftest import REF_STABLE
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def ostree(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ostree", *args], capture_output=True, text=True, timeout=120)


def test_an_approved_commit_reaches_a_gpg_verifying_client_over_http(
    signed_prod, stages, make_dev_commit, release_engineer, approver, client_for, celery_worker, live_server, tmp_path
):
    commit = make_dev_commit("41.20261125.0")
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum, comment="a week on the pilots")

    response = client_for(approver).post(
        f"/releases/promotions/{promotion.pk}/approve", {"comment": "looks good"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "promotionChanged" in json.loads(response["HX-Trigger"])
    assert b'id="promotion-panel"' in response.content

    wait_until(
        lambda: Promotion.objects.get(pk=promotion.pk).state in Promotion.FINISHED_STATES,
        timeout=60,
        message="promotion finished",
    )
    promotion.refresh_from_db()
    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log + celery_worker.log()
    prod = Repo(stages["prod"].repo_dir)
    assert prod.resolve(REF_STABLE) == commit.checksum
    assert prod.signature_key_ids(commit.checksum) == [signed_prod.signing_key.fingerprint[-16:]]
    assert (stages["prod"].repo_dir / "summary.sig").is_file()

    # A real client with gpg-verify and gpg-verify-summary pulls over HTTP from the portal's /repo/prod/.
    key_file = tmp_path / "prod.asc"
    key_response = client_for(approver).get(f"/releases/stages/{signed_prod.name}/key.asc")
    assert key_response.status_code == 200
    key_file.write_bytes(key_response.content)
    client = tmp_path / "client"
    assert ostree("init", "--mode=archive", f"--repo={client}").returncode == 0
    added = ostree(
        "remote",
        "add",
        f"--repo={client}",
        f"--gpg-import={key_file}",
        "--set=gpg-verify-summary=true",
        "prod",
        f"{live_server.url}/repo/prod/",
    )
    assert added.returncode == 0, added.stderr
    pulled = ostree("pull", f"--repo={client}", "prod", REF_STABLE)
    assert pulled.returncode == 0, pulled.stderr
    got = ostree("rev-parse", f"--repo={client}", f"prod:{REF_STABLE}").stdout.strip()
    assert got == commit.checksum
    client_info = Repo(client).read_commit(got)
    assert client_info.content_checksum == commit.content_checksum
    assert AuditEvent.objects.filter(action="promotion.run", object_id=str(promotion.pk)).count() == 1

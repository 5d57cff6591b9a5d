"""An OCI stage in the admin: what each kind needs is checked, and nothing is saved when it is missing or wrong."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from kinoite_portal.releases.models import Stage


def _form(**changes: Any) -> dict[str, Any]:
    data = {
        "name": "prod",
        "order": "1",
        "kind": "oci",
        "repo_path": "",
        "image_registry": "registry.example.com:5000",
        "image_repository": "prod/kinoite",
        "registry_tls_verify": "on",
        "public_url": "",
        "signing_key": "",
        "required_approvals": "1",
        "min_days_in_previous_stage": "7",
        "expedite_extra_approvals": "1",
        "rollback_required_approvals": "1",
        "retention_depth": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_an_oci_stage_with_its_registry_and_repository_is_saved(admin_user, client_for) -> None:
    answer = client_for(admin_user).post(reverse("admin:releases_stage_add"), _form())
    assert answer.status_code == 302
    stage = Stage.objects.get(name="prod")
    assert (stage.kind, stage.image_registry, stage.image_repository) == (
        "oci",
        "registry.example.com:5000",
        "prod/kinoite",
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"image_registry": ""}, "An OCI stage needs this, e.g. registry.example.com:5000."),
        ({"image_repository": ""}, "An OCI stage needs this, e.g. prod/kinoite."),
        ({"image_registry": "https://registry.example.com"}, "is not a registry host[:port]"),
        ({"image_repository": "Prod/Kinoite"}, "is not a repository name"),
        ({"kind": "ostree"}, "An OSTree stage needs the path of its repo."),
    ],
)
def test_a_stage_missing_what_its_kind_needs_is_refused_and_nothing_is_saved(
    admin_user, client_for, changes: dict[str, str], message: str
) -> None:
    answer = client_for(admin_user).post(reverse("admin:releases_stage_add"), _form(**changes))
    assert answer.status_code == 200
    assert message in answer.content.decode().replace("&#x27;", "'")
    assert not Stage.objects.exists()


def test_the_kind_of_a_stage_with_tags_recorded_cannot_change(admin_user, client_for) -> None:
    stage = Stage.objects.create(
        name="prod", order=1, kind="oci", image_registry="registry.example.com", image_repository="prod/kinoite"
    )
    stage.refs.create(name="stable")
    url = reverse("admin:releases_stage_change", args=[stage.pk])
    answer = client_for(admin_user).post(url, _form(kind="ostree", repo_path="/srv/ostree/prod"))
    assert answer.status_code == 200
    assert "its kind cannot change" in answer.content.decode()
    assert Stage.objects.get(pk=stage.pk).kind == "oci"


def test_a_registry_auth_file_others_can_read_is_an_error(settings, tmp_path) -> None:
    from django.core.checks import run_checks

    auth = tmp_path / "registry-auth.json"
    settings.PORTAL_REGISTRY_AUTH_FILE = auth
    assert [m for m in run_checks() if m.id == "kinoite_portal.E051"] == []  # no file: nothing to protect
    auth.write_text('{"auths": {"registry.example.com": {"auth": "dXNlcjpwYXNz"}}}')
    auth.chmod(0o644)
    (error,) = [m for m in run_checks() if m.id == "kinoite_portal.E051"]
    assert "readable by others (mode 0644)" in error.msg
    auth.chmod(0o600)
    assert [m for m in run_checks() if m.id == "kinoite_portal.E051"] == []

"""A stage desktops pull from without a signing key is flagged on the dashboard and by `manage.py check --deploy`."""

from __future__ import annotations

from django.core.checks import run_checks

from kinoite_portal.releases.models import SigningKey, Stage


def warnings_about_signing() -> list[str]:
    return [m.msg for m in run_checks(include_deployment_checks=True) if m.id == "kinoite_portal.W050"]


def test_check_deploy_names_the_unsigned_stage_desktops_pull_from(stages) -> None:
    assert warnings_about_signing() == [
        "Stage 'prod' has no signing key, but desktops pull from it: they cannot verify its commits or its summary."
    ]

    key = SigningKey.objects.create(name="k", fingerprint="B" * 40, public_key="-", gnupg_home="/nowhere")
    Stage.objects.filter(name="prod").update(signing_key=key)

    assert warnings_about_signing() == []  # dev holds fresh composes for pilots only: not flagged


def test_the_dashboard_flags_an_unsigned_prod_and_admins_get_the_way_to_fix_it(
    stages, release_engineer, admin_user, client_for
) -> None:
    page = client_for(release_engineer).get("/").content.decode()
    assert 'id="unsigned-prod"' in page
    assert 'id="unsigned-dev"' not in page
    assert "An administrator gives it one in the admin." in page

    admin_page = client_for(admin_user).get("/").content.decode()
    assert f'href="/admin/releases/stage/{stages["prod"].pk}/change/"' in admin_page

    key = SigningKey.objects.create(name="k", fingerprint="C" * 40, public_key="-", gnupg_home="/nowhere")
    Stage.objects.filter(name="prod").update(signing_key=key)
    assert 'id="unsigned-prod"' not in client_for(release_engineer).get("/").content.decode()

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from django.urls import reverse

from kinoite_portal.releases.models import SigningKey, Stage

PUBLIC_KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ...test...\n-----END PGP PUBLIC KEY BLOCK-----\n"


def stages() -> tuple[Stage, Stage]:
    key = SigningKey.objects.create(name="prod key", fingerprint="A" * 40, public_key=PUBLIC_KEY, gnupg_home="/x")
    dev = Stage.objects.create(name="dev", order=0, repo_path="dev", public_url="http://portal.test/repo/dev/")
    prod = Stage.objects.create(
        name="prod", order=1, repo_path="prod", public_url="http://portal.test/repo/prod/", signing_key=key
    )
    return dev, prod


def test_it_shows_exact_commands_for_each_stage(release_engineer: Any, client_for: Any) -> None:
    stages()
    page = client_for(release_engineer).get(reverse("fleet:client_setup")).content.decode()
    assert "ostree remote add --if-not-exists --no-gpg-verify portal-dev http://portal.test/repo/dev/" in page
    assert "--gpg-import=/etc/pki/rpm-gpg/kinoite-portal-prod.asc" in page
    assert "/releases/stages/prod/key.asc" in page
    assert "rpm-ostree rebase portal-prod:fedora/x86_64/kinoite/stable" in page
    assert "sh install.sh --url" in page
    assert "--enrollment-token" in page


def test_it_serves_a_stages_public_key_without_sign_in(db: None) -> None:
    stages()
    response = Client().get(reverse("releases:stage_public_key", args=["prod"]))
    assert response.status_code == 200
    assert response.content.decode() == PUBLIC_KEY
    assert Client().get(reverse("releases:stage_public_key", args=["dev"])).status_code == 404


def test_it_serves_only_the_agent_files(db: None) -> None:
    client = Client()
    agent = client.get(reverse("fleet:agent_file", args=["kinoite-portal-agent"]))
    assert agent.status_code == 200
    assert agent.content.startswith(b"#!/usr/bin/python3")
    assert client.get(reverse("fleet:agent_file", args=["install.sh"])).status_code == 200
    assert client.get("/fleet/agent/..%2F..%2Fmanage.py").status_code == 404
    assert client.get(reverse("fleet:agent_file", args=["pyproject.toml"])).status_code == 404


def test_a_department_head_may_not_open_it(department_head: Any, client_for: Any) -> None:
    assert client_for(department_head).get(reverse("fleet:client_setup")).status_code == 403


def test_a_signing_stage_shows_only_the_verified_setup_and_an_unsigned_one_says_why(
    release_engineer: Any, client_for: Any
) -> None:
    stages()
    page = client_for(release_engineer).get(reverse("fleet:client_setup")).content.decode()

    assert (
        "ostree remote add --if-not-exists --set=gpg-verify=true --set=gpg-verify-summary=true \\\n"
        "    --gpg-import=/etc/pki/rpm-gpg/kinoite-portal-prod.asc \\\n"
        "    portal-prod http://portal.test/repo/prod/"
    ) in page
    assert "--no-gpg-verify portal-prod" not in page
    assert "dev has no signing key, so desktops cannot verify what they pull" in page
    assert "prod has no signing key" not in page


def test_steps_are_numbered_once_and_every_command_has_a_copy_button(release_engineer: Any, client_for: Any) -> None:
    stages()
    page = client_for(release_engineer).get(reverse("fleet:client_setup")).content.decode()

    assert re.findall(r"<h2>(\d)\. ", page) == ["1", "2"]
    commands = re.findall(r'<pre class="cmd" id="([^"]+)">', page)
    buttons = re.findall(r'<button type="button" class="copy" data-copy-target="([^"]+)"', page)
    assert len(commands) == 6  # prod: key, remote, rebase; dev: remote, rebase; the agent
    assert buttons == commands
    assert "<script>" not in page
    assert "style=" not in page
    assert "onclick" not in page


def test_it_warns_when_the_portal_is_reached_at_another_address_than_the_commands_use(
    release_engineer: Any, client_for: Any, settings: Any
) -> None:
    stages()
    settings.PORTAL_PUBLIC_URL = "http://portal.example:8000"
    page = client_for(release_engineer).get(reverse("fleet:client_setup")).content.decode()
    assert 'id="public-url-mismatch"' in page
    assert "set <code>PORTAL_PUBLIC_URL=http://testserver</code>" in page
    assert "sh install.sh --url http://portal.example:8000 --enrollment-token" in page

    settings.PORTAL_PUBLIC_URL = "http://testserver/"
    page = client_for(release_engineer).get(reverse("fleet:client_setup")).content.decode()
    assert 'id="public-url-mismatch"' not in page
    key_url = "http://testserver/releases/stages/prod/key.asc"
    assert f"curl -fsSL -o /etc/pki/rpm-gpg/kinoite-portal-prod.asc {key_url}" in page

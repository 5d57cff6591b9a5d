"""The shipped deploy/ files: every setting documented, configs rendered safely, systemd units valid."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.services import PROJECT_DIR

DEPLOY = PROJECT_DIR / "deploy"


def settings_read_from_environment() -> set[str]:
    names: set[str] = set()
    for module in ("settings.py", "ldap_settings.py"):
        source = (PROJECT_DIR / "kinoite_portal" / module).read_text()
        names |= set(re.findall(r'(?:env_(?:str|bool|int|list)|_get)\((?:environ, )?"([A-Z0-9_]+)"', source))
    source = (DEPLOY / "gunicorn.conf.py").read_text()
    names |= set(re.findall(r'os\.environ\.get\("([A-Z0-9_]+)"', source))
    return names


def test_the_environment_example_documents_every_setting() -> None:
    documented = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)(?:_FILE)?=", (DEPLOY / "portal.env.example").read_text(), re.M))
    names = settings_read_from_environment()

    assert len(names) > 40
    assert sorted(names - documented) == []


def test_rendering_fills_every_placeholder(tmp_path: Path) -> None:
    for server in ("nginx", "apache"):
        out = tmp_path / f"{server}.conf"
        call_command(
            "render_webserver_config",
            server=server,
            repo_root="/srv/ostree/rpm-ostree",
            static_root="/var/lib/kinoite-portal/static",
            server_name="kinoite.example.com",
            cert="/etc/pki/tls/certs/k.crt",
            key="/etc/pki/tls/private/k.key",
            output=str(out),
        )
        text = out.read_text()
        assert "@" not in re.sub(r"#.*", "", text)
        assert "/srv/ostree/rpm-ostree/" in text
        assert "8443" in text


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("repo_root", "/srv/repo; include /etc/passwd", "must be an absolute path"),
        ("repo_root", "relative/path", "must be an absolute path"),
        ("server_name", "kinoite.example.com; evil", "is not a host name"),
        ("cert", "", "--cert (or PORTAL_TLS_CERT) is required"),
        ("port", 0, "is not a TCP port"),
    ],
)
def test_rendering_refuses_unsafe_values_and_writes_nothing(
    tmp_path: Path, option: str, value: object, message: str
) -> None:
    out = tmp_path / "kinoite-portal.conf"
    options = {
        "server": "nginx",
        "repo_root": "/srv/ostree",
        "static_root": "/srv/static",
        "server_name": "k.example.com",
        "cert": "/etc/k.crt",
        "key": "/etc/k.key",
        "output": str(out),
        option: value,
    }

    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("render_webserver_config", **options)

    assert not out.exists()


def test_the_systemd_units_are_valid(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    units = tmp_path / "units"
    shutil.copytree(DEPLOY / "systemd", units)
    for queue in ("compose", "repo", "default"):
        shutil.copy(units / "kinoite-portal-worker@.service", units / f"kinoite-portal-worker@{queue}.service")
    names = [p.name for p in units.glob("*.service") if not p.name.endswith("@.service")] + [
        "kinoite-portal-web.socket"
    ]

    result = subprocess.run(
        [analyze, "verify", "--man=no", *names], cwd=units, capture_output=True, text=True, timeout=60, check=False
    )

    # The only complaints allowed: the install paths (/opt/kinoite-portal/venv) do not exist on this machine.
    problems = [line for line in result.stderr.splitlines() if line.strip() and "is not executable" not in line]
    assert problems == []

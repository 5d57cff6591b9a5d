"""Bad deployment input stops `manage.py` (and so every unit's ExecStartPre and gunicorn) with a clear message."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.core.test_settings import production_env, run_manage


def check(tmp_path: Path, **env: str) -> tuple[int, str]:
    result = run_manage("check", env=production_env(tmp_path, **env))
    return result.returncode, result.stdout + result.stderr


def test_it_refuses_a_repo_file_the_web_server_cannot_read(tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="kp-check-"))  # /tmp/..., unlike pytest's 0700 tmp_path
    try:
        repos = root / "repos"
        (repos / "prod" / "objects").mkdir(parents=True)
        (repos / "prod" / "config").write_text("[core]\nmode=archive-z2\n")
        for path in (root, repos, repos / "prod", repos / "prod" / "objects"):
            path.chmod(0o755)
        (repos / "prod" / "config").chmod(0o644)
        readable, _ = check(tmp_path, PORTAL_REPO_ROOT=str(repos), PORTAL_WEBSERVER_USER="nobody")
        (repos / "prod" / "config").chmod(0o600)

        code, output = check(tmp_path, PORTAL_REPO_ROOT=str(repos), PORTAL_WEBSERVER_USER="nobody")
    finally:
        shutil.rmtree(root)

    assert readable == 0
    assert code != 0
    assert f"The web server user 'nobody' cannot read {repos}/prod/config (mode -rw-------" in output


def test_the_repo_check_names_the_path_and_the_fix(tmp_path: Path) -> None:
    repos = tmp_path / "repos"
    repos.mkdir()

    code, output = check(tmp_path, PORTAL_REPO_ROOT=str(repos), PORTAL_WEBSERVER_USER="nobody")

    assert code != 0
    assert "kinoite_portal.E001" in output
    assert "chmod o+" in output
    assert "clients cannot pull from the repos under PORTAL_REPO_ROOT" in output


def test_it_refuses_a_web_server_user_that_does_not_exist(tmp_path: Path) -> None:
    code, output = check(tmp_path, PORTAL_WEBSERVER_USER="no-such-httpd-user")

    assert code != 0
    assert "PORTAL_WEBSERVER_USER='no-such-httpd-user' is not an account on this machine" in output


def test_it_refuses_a_missing_tls_certificate_path(tmp_path: Path) -> None:
    key = tmp_path / "portal.key"
    key.write_text("key")

    code, output = check(tmp_path, PORTAL_TLS_CERT=str(tmp_path / "missing.crt"), PORTAL_TLS_KEY=str(key))

    assert code != 0
    assert f"PORTAL_TLS_CERT={tmp_path}/missing.crt does not exist" in output


def test_it_refuses_a_tls_certificate_that_is_not_pem_and_a_missing_key(tmp_path: Path) -> None:
    cert = tmp_path / "portal.crt"
    cert.write_text("not a certificate")

    code, output = check(tmp_path, PORTAL_TLS_CERT=str(cert), PORTAL_TLS_KEY=str(tmp_path / "missing.key"))

    assert code != 0
    assert "is not a PEM certificate" in output
    assert f"PORTAL_TLS_KEY={tmp_path}/missing.key does not exist" in output


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"AUTH_LDAP_SERVER_URI": "ldap://dc1.example.com"},
            "neither AUTH_LDAP_USER_DN_TEMPLATE nor AUTH_LDAP_USER_SEARCH_BASE is",
        ),
        (
            {"AUTH_LDAP_SERVER_URI": "http://dc1.example.com", "AUTH_LDAP_USER_DN_TEMPLATE": "uid=%(user)s,dc=x"},
            "'http://dc1.example.com' is not an ldap://, ldaps:// or ldapi:// URL",
        ),
        (
            {
                "AUTH_LDAP_SERVER_URI": "ldap://dc1",
                "AUTH_LDAP_USER_SEARCH_BASE": "cn=Users,dc=example,dc=com",
                "AUTH_LDAP_BIND_DN": "cn=portal,cn=Users,dc=example,dc=com",
            },
            "AUTH_LDAP_BIND_DN is set but AUTH_LDAP_BIND_PASSWORD (or AUTH_LDAP_BIND_PASSWORD_FILE) is empty",
        ),
        (
            {
                "AUTH_LDAP_SERVER_URI": "ldap://dc1",
                "AUTH_LDAP_USER_DN_TEMPLATE": "uid=%(user)s,dc=x",
                "AUTH_LDAP_GROUP_MAP": "cn=it,dc=x => approvers",
            },
            "AUTH_LDAP_GROUP_SEARCH_BASE is not",
        ),
        (
            {
                "AUTH_LDAP_SERVER_URI": "ldap://dc1",
                "AUTH_LDAP_USER_DN_TEMPLATE": "uid=%(user)s,dc=x",
                "AUTH_LDAP_GROUP_SEARCH_BASE": "dc=x",
                "AUTH_LDAP_GROUP_MAP": "cn=it,dc=x => approver",
            },
            "maps to 'approver', which is not a portal group or flag",
        ),
        (
            {
                "AUTH_LDAP_SERVER_URI": "ldap://dc1",
                "AUTH_LDAP_USER_DN_TEMPLATE": "uid=%(user)s,dc=x",
                "AUTH_LDAP_GROUP_MAP": "cn=it,dc=x approvers",
            },
            "AUTH_LDAP_GROUP_MAP: entry 'cn=it,dc=x approvers' is not 'DIRECTORY-GROUP-DN => target[, target]'",
        ),
        (
            {
                "AUTH_LDAP_SERVER_URI": "ldap://dc1",
                "AUTH_LDAP_USER_DN_TEMPLATE": "uid=%(user)s,dc=x",
                "AUTH_LDAP_GROUP_TYPE": "adGroup",
            },
            "AUTH_LDAP_GROUP_TYPE='adGroup' is not one of groupOfNames",
        ),
        (
            {
                "AUTH_LDAP_SERVER_URI": "ldap://dc1",
                "AUTH_LDAP_USER_DN_TEMPLATE": "uid=%(user)s,dc=x",
                "AUTH_LDAP_BIND_PASSWORD_FILE": "/nonexistent/ldap-password",
            },
            "AUTH_LDAP_BIND_PASSWORD_FILE=/nonexistent/ldap-password cannot be read",
        ),
    ],
    ids=[
        "no-user-lookup",
        "bad-uri",
        "bind-without-password",
        "map-without-group-search",
        "unknown-group",
        "map-syntax",
        "group-type",
        "password-file",
    ],
)
def test_it_refuses_bad_ldap_settings_with_a_clear_message(tmp_path: Path, env: dict[str, str], message: str) -> None:
    code, output = check(tmp_path, **env)

    assert code != 0
    assert message in output


def test_a_complete_active_directory_configuration_passes(tmp_path: Path) -> None:
    password = tmp_path / "ldap-password"
    password.write_text("s3cret\n")
    code, output = check(
        tmp_path,
        AUTH_LDAP_SERVER_URI="ldaps://dc1.example.com",
        AUTH_LDAP_BIND_DN="cn=kinoite-portal,cn=Users,dc=example,dc=com",
        AUTH_LDAP_BIND_PASSWORD_FILE=str(password),
        AUTH_LDAP_USER_SEARCH_BASE="cn=Users,dc=example,dc=com",
        AUTH_LDAP_USER_SEARCH_FILTER="(sAMAccountName=%(user)s)",
        AUTH_LDAP_GROUP_SEARCH_BASE="ou=Groups,dc=example,dc=com",
        AUTH_LDAP_GROUP_TYPE="nestedActiveDirectory",
        AUTH_LDAP_GROUP_MAP="CN=IT Release,OU=Groups,DC=example,DC=com => release-engineers, staff",
        AUTH_LDAP_DEPARTMENT_MAP="CN=Finance Heads,OU=Groups,DC=example,DC=com => finance",
    )

    assert code == 0, output
    assert "System check identified no issues" in output

"""Directory sign-in against a real slapd: directory groups become portal groups and department headships."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ldap
import pytest
from django.contrib.auth.models import User
from django.test import Client

from kinoite_portal.core import roles
from kinoite_portal.core.models import AuditEvent
from kinoite_portal.fleet.models import Department
from kinoite_portal.ldap_settings import ldap_settings_from_env
from tests.services import free_port, stop_process, wait_for_port

BASE = "dc=example,dc=com"
GROUPS = f"ou=groups,{BASE}"
CONFIG_LDIF = """dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {root}/slapd.pid

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: dc=example,dc=com
olcRootDN: cn=admin,dc=example,dc=com
olcRootPW: adminpw
olcDbDirectory: {root}/data
olcDbIndex: objectClass eq
olcDbIndex: uid,member eq
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to * by * read
"""
# name, given name, groups
PEOPLE = {
    "rita": ("Rita", ["it-release"]),
    "alice": ("Alice", ["it-approvers"]),
    "dora": ("Dora", ["finance-heads"]),
    "nina": ("Nina", ["everyone"]),
    "lena": ("Lena", ["finance-heads", "everyone"]),
}


def data_ldif() -> str:
    entries = [
        f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example",
        f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups",
    ]
    for uid, (given, _) in PEOPLE.items():
        entries.append(
            f"dn: uid={uid},ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {given} Example\n"
            f"givenName: {given}\nsn: Example\nmail: {uid}@example.com\nuserPassword: {uid}-secret"
        )
    for group in sorted({g for _, groups in PEOPLE.values() for g in groups}):
        members = "\n".join(f"member: uid={uid},ou=people,{BASE}" for uid, (_, gs) in PEOPLE.items() if group in gs)
        entries.append(f"dn: cn={group},{GROUPS}\nobjectClass: groupOfNames\ncn: {group}\n{members}")
    return "\n\n".join(entries) + "\n"


@pytest.fixture(scope="module")
def slapd_url() -> Iterator[str]:
    """Run a throwaway slapd (cn=config built with slapadd) on a free loopback port."""
    if shutil.which("slapd") is None and not Path("/usr/sbin/slapd").exists():
        pytest.fail("slapd is not installed: run deploy/dev/install-system-packages.sh test")
    root = Path(tempfile.mkdtemp(prefix="kp-slapd-"))
    try:
        (root / "slapd.d").mkdir()
        (root / "data").mkdir()
        (root / "config.ldif").write_text(CONFIG_LDIF.format(root=root))
        (root / "data.ldif").write_text(data_ldif())
        for number, ldif in (("0", "config.ldif"), ("1", "data.ldif")):
            subprocess.run(
                ["/usr/sbin/slapadd", f"-n{number}", "-F", str(root / "slapd.d"), "-l", str(root / ldif)],
                check=True,
                capture_output=True,
                timeout=30,
            )
        port = free_port()
        proc = subprocess.Popen(
            ["/usr/sbin/slapd", "-d", "0", "-h", f"ldap://127.0.0.1:{port}/", "-F", str(root / "slapd.d")],
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(port)
            yield f"ldap://127.0.0.1:{port}"
        finally:
            stop_process(proc, timeout=10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def directory_env(url: str, **extra: str) -> dict[str, str]:
    """Return the environment an admin would write into portal.env for this directory."""
    return {
        "AUTH_LDAP_SERVER_URI": url,
        "AUTH_LDAP_USER_DN_TEMPLATE": f"uid=%(user)s,ou=people,{BASE}",
        "AUTH_LDAP_GROUP_SEARCH_BASE": GROUPS,
        "AUTH_LDAP_GROUP_TYPE": "groupOfNames",
        "AUTH_LDAP_GROUP_MAP": (
            f"cn=it-release,{GROUPS} => release-engineers, staff;\n"
            f"cn=it-approvers,{GROUPS} => approvers;"
            f"cn=finance-heads,{GROUPS} => department-heads"
        ),
        "AUTH_LDAP_DEPARTMENT_MAP": f"cn=finance-heads,{GROUPS} => finance",
        "AUTH_LDAP_TIMEOUT": "2",
        **extra,
    }


@pytest.fixture
def directory(settings: Any, slapd_url: str, db: None) -> str:
    """Configure the portal's settings from a directory environment, as kinoite_portal/ldap_settings.py does."""
    for name, value in ldap_settings_from_env(directory_env(slapd_url)).items():
        setattr(settings, name, value)
    Department.objects.create(name="Finance", slug="finance")
    return slapd_url


def sign_in(username: str, password: str) -> tuple[Client, Any]:
    client = Client()
    response = client.post("/login/", {"username": username, "password": password})
    return client, response


def test_a_release_engineer_from_the_directory_gets_release_rights(directory: str) -> None:
    client, response = sign_in("rita", "rita-secret")

    assert response.status_code == 302
    user = User.objects.get(username="rita")
    assert {g.name for g in user.groups.all()} == {roles.RELEASE_ENGINEERS}
    assert user.has_perm("releases.start_compose")
    assert not user.has_perm("releases.approve_promotion")
    assert user.is_staff
    assert not user.is_superuser
    assert (user.first_name, user.email) == ("Rita", "rita@example.com")
    assert not user.has_usable_password()
    assert client.get("/").status_code == 200
    event = AuditEvent.objects.get(action="user.directory_sync")
    assert event.data["groups_added"] == [roles.RELEASE_ENGINEERS]


def test_an_approver_from_the_directory_gets_approve_rights_only(directory: str) -> None:
    client, response = sign_in("alice", "alice-secret")

    assert response.status_code == 302
    user = User.objects.get(username="alice")
    assert {g.name for g in user.groups.all()} == {roles.APPROVERS}
    assert user.has_perm("releases.approve_promotion")
    assert not user.has_perm("releases.start_compose")
    assert not user.is_staff
    assert client.get("/").status_code == 200


def test_a_department_head_from_the_directory_heads_the_mapped_department(directory: str) -> None:
    client, response = sign_in("dora", "dora-secret")

    assert response.status_code == 302
    user = User.objects.get(username="dora")
    assert list(Department.objects.get(slug="finance").heads.all()) == [user]
    assert user.has_perm("fleet.view_rollout")
    assert not user.has_perm("releases.view_commit")
    landing = client.get("/")
    assert landing.status_code == 302
    assert landing["Location"].startswith("/fleet/")


def test_a_user_in_no_mapped_group_signs_in_to_the_no_access_page(directory: str) -> None:
    client, response = sign_in("nina", "nina-secret")

    assert response.status_code == 302
    assert not User.objects.get(username="nina").groups.exists()
    page = client.get("/")
    assert page.status_code == 403
    assert b"No access yet" in page.content


def test_a_wrong_directory_password_shows_the_normal_sign_in_error(directory: str) -> None:
    client, response = sign_in("rita", "not-ritas-password")

    assert response.status_code == 200
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(username="rita").exists()


def test_leaving_a_directory_group_removes_the_portal_role_at_next_sign_in(directory: str) -> None:
    sign_in("lena", "lena-secret")
    assert Department.objects.get(slug="finance").heads.filter(username="lena").exists()
    admin = ldap.initialize(directory)
    admin.simple_bind_s(f"cn=admin,{BASE}", "adminpw")
    admin.modify_s(f"cn=finance-heads,{GROUPS}", [(ldap.MOD_DELETE, "member", [f"uid=lena,ou=people,{BASE}".encode()])])

    _, response = sign_in("lena", "lena-secret")

    assert response.status_code == 302
    user = User.objects.get(username="lena")
    assert not user.groups.exists()
    assert not Department.objects.get(slug="finance").heads.filter(pk=user.pk).exists()


def test_local_accounts_keep_working_next_to_the_directory(directory: str, admin_user: User) -> None:
    client, response = sign_in("root-admin", "pw-root-admin")

    assert response.status_code == 302
    assert client.session["_auth_user_backend"] == "django.contrib.auth.backends.ModelBackend"


def test_an_unreachable_directory_logs_a_clear_line_and_local_accounts_still_work(
    settings: Any, db: None, admin_user: User, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in ldap_settings_from_env(directory_env(f"ldap://127.0.0.1:{free_port()}")).items():
        setattr(settings, name, value)

    with caplog.at_level(logging.ERROR, logger="kinoite_portal.ldap"):
        _, refused = sign_in("rita", "rita-secret")
        _, local = sign_in("root-admin", "pw-root-admin")

    assert refused.status_code == 200
    assert b"Sign in" in refused.content
    assert local.status_code == 302
    assert any(
        "Directory sign-in failed while authenticate at ldap://127.0.0.1:" in r.getMessage()
        and "Can't contact LDAP server" in r.getMessage()
        for r in caplog.records
    )


def test_python_ldap_is_the_real_client(slapd_url: str) -> None:
    conn = ldap.initialize(slapd_url)
    conn.simple_bind_s(f"uid=nina,ou=people,{BASE}", "nina-secret")

    assert conn.whoami_s() == f"dn:uid=nina,ou=people,{BASE}"

"""The real agent from deploy/client, run as a process against the live test server.

The end-to-end test uses real ostree on both sides: the portal's prod repo served at /repo/prod/ and a client
sysroot folder that pulls and deploys from it over HTTP. Only rpm-ostree is mocked (tests/fleet/fake_rpm_ostree.py).
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

from kinoite_portal.fleet.models import CheckIn, Department, Host
from kinoite_portal.fleet.services.enrollment import enrollment_token_create, host_token_revoke
from kinoite_portal.ostree import Repo, build_tree, run
from kinoite_portal.ostree.treebuilder import Package
from kinoite_portal.releases.services.commits import commit_import, ref_move
from kinoite_portal.releases.services.stages import stage_ensure
from tests.fleet.helpers import PROD_REF, machine_id

AGENT = Path(settings.BASE_DIR) / "deploy" / "client" / "kinoite-portal-agent"
FAKE_RPM_OSTREE = Path(__file__).with_name("fake_rpm_ostree.py")
VERSION = "41.20261125.0"


def run_agent(config: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(AGENT), str(config)], capture_output=True, text=True, timeout=timeout, check=False)


def write_config(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


@pytest.fixture
def sysroot(tmp_path: Path) -> Iterator[Path]:
    """Yield an empty sysroot folder; afterwards clear the immutable bit ostree sets on deployments."""
    root = tmp_path / "sysroot"
    root.mkdir()
    yield root
    for deployment in root.glob("ostree/deploy/*/deploy/*.0"):
        subprocess.run(["chattr", "-i", str(deployment)], check=False)


@pytest.fixture
def machine_id_file(tmp_path: Path) -> Path:
    path = tmp_path / "machine-id"
    path.write_text(machine_id("kinoite-e2e") + "\n")
    return path


LIVE = pytest.mark.django_db(transaction=True)


@LIVE
def test_a_deployed_sysroot_reported_by_the_agent_appears_on_the_rollout_page_on_its_commit(
    live_server: Any, tmp_path: Path, sysroot: Path, machine_id_file: Path, release_engineer: Any, client_for: Any
) -> None:
    # The portal side: a prod repo with one deployable commit, recorded as the prod head.
    prod = stage_ensure(name="prod", order=1, repo_path="prod")
    repo = Repo(prod.repo_dir)
    tree = tmp_path / "tree"
    build_tree(
        tree,
        treefile={"ref": PROD_REF, "releasever": "41"},
        packages=[Package("bash", 0, "5.2.32", "1.fc41", "x86_64")],
        version=VERSION,
        kernel_version="6.11.4-301.fc41.x86_64",
    )
    checksum = repo.commit(branch=PROD_REF, tree_dir=tree, subject=f"Kinoite {VERSION}", metadata={"version": VERSION})
    repo.update_summary(allow_unsigned=True)
    ref_move(stage=prod, ref_name=PROD_REF, commit=commit_import(repo=repo, checksum=checksum), source="import")

    # The desktop side: a sysroot folder that pulls the commit from the portal over HTTP and deploys it.
    run(["ostree", "admin", "init-fs", str(sysroot)], timeout=60)
    run(["ostree", "admin", "os-init", "kinoite", f"--sysroot={sysroot}"], timeout=60)
    run(
        ["ostree", "remote", "add", f"--sysroot={sysroot}", "--no-gpg-verify", "prod", f"{live_server.url}/repo/prod/"],
        timeout=60,
    )
    run(["ostree", "pull", f"--repo={sysroot}/ostree/repo", "prod", PROD_REF], timeout=120)
    run(["ostree", "admin", "deploy", f"--sysroot={sysroot}", "--os=kinoite", f"prod:{PROD_REF}"], timeout=120)

    # The real agent, enrolling with an enrollment token and reporting through the rpm-ostree mock.
    department = Department.objects.create(name="Finance", slug="finance")
    enrollment = enrollment_token_create(department=department)
    config = write_config(
        tmp_path / "agent.conf",
        URL=live_server.url,
        ENROLLMENT_TOKEN=enrollment.raw,
        STATUS_COMMAND=f"{FAKE_RPM_OSTREE} {sysroot} status --json",
        MACHINE_ID_FILE=str(machine_id_file),
        GREENBOOT="off",
        ATTEMPTS="2",
        TIMEOUT="30",
    )
    result = run_agent(config)
    assert result.returncode == 0, result.stderr

    host = Host.objects.get(machine_id=machine_id("kinoite-e2e"))
    assert host.booted_checksum == checksum
    assert host.booted_version == VERSION
    assert host.booted_origin == f"prod:{PROD_REF}"
    saved = config.read_text()
    assert "ENROLLMENT_TOKEN" not in saved
    assert "TOKEN=kph_" in saved
    assert oct(config.stat().st_mode & 0o777) == "0o600"

    client = client_for(release_engineer)
    page = client.get(reverse("fleet:department", args=["finance"])).content.decode()
    assert f'data-ref="{PROD_REF}"' in page
    hosts = client.get(reverse("fleet:host_list") + "?category=current").content.decode()
    assert f'data-host="{host.hostname}"' in hosts
    assert checksum[:10] in hosts

    # The second run uses the stored host token.
    assert run_agent(config).returncode == 0
    assert CheckIn.objects.filter(host=host).count() == 2


@LIVE
def test_the_agent_stops_at_once_when_the_portal_refuses_its_token(
    live_server: Any, tmp_path: Path, machine_id_file: Path, enroll: Any, finance: Any
) -> None:
    host, _ = enroll(finance, "kinoite-e2e")
    host_token_revoke(host=host)
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"deployments": []}))
    config = write_config(
        tmp_path / "agent.conf",
        URL=live_server.url,
        TOKEN="kph_revoked-or-forged",
        STATUS_COMMAND=f"cat {status}",
        MACHINE_ID_FILE=str(machine_id_file),
        GREENBOOT="off",
    )
    result = run_agent(config)
    assert result.returncode == 3
    assert "HTTP 401" in result.stderr
    assert not CheckIn.objects.exists()


def test_the_agent_gives_up_within_its_time_bound_when_the_portal_is_down(
    tmp_path: Path, machine_id_file: Path
) -> None:
    from tests.services import free_port

    config = write_config(
        tmp_path / "agent.conf",
        URL=f"http://127.0.0.1:{free_port()}",
        TOKEN="kph_x",
        STATUS_COMMAND="echo {}",
        MACHINE_ID_FILE=str(machine_id_file),
        GREENBOOT="off",
        ATTEMPTS="5",
        TIMEOUT="2",
        MAX_SECONDS="3",
    )
    started = time.monotonic()
    result = run_agent(config, timeout=30)
    assert result.returncode == 1
    assert "giving up" in result.stderr
    assert time.monotonic() - started < 10


def test_the_agent_reports_a_missing_config_as_a_local_error(tmp_path: Path) -> None:
    result = run_agent(tmp_path / "missing.conf")
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_the_install_script_writes_the_agent_units_and_a_private_config(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    script = AGENT.with_name("install.sh")
    result = subprocess.run(
        ["sh", str(script), "--url", "https://portal.example.com/", "--enrollment-token", "kpe_abc"],
        env={**os.environ, "DESTDIR": str(dest)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    conf = dest / "etc/kinoite-portal/agent.conf"
    assert conf.read_text() == "URL=https://portal.example.com\nENROLLMENT_TOKEN=kpe_abc\n"
    assert oct(conf.stat().st_mode & 0o777) == "0o600"
    assert os.access(dest / "usr/local/bin/kinoite-portal-agent", os.X_OK)
    timer = (dest / "etc/systemd/system/kinoite-portal-agent.timer").read_text()
    assert "RandomizedDelaySec=" in timer
    assert "OnBootSec=" in timer
    service = (dest / "etc/systemd/system/kinoite-portal-agent.service").read_text()
    assert "Type=oneshot" in service
    assert "Nice=19" in service


def test_the_agent_writes_its_token_to_disk_before_replacing_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loader = importlib.machinery.SourceFileLoader("kinoite_portal_agent", str(AGENT))
    agent = types.ModuleType(loader.name)
    loader.exec_module(agent)
    config = write_config(tmp_path / "agent.conf", URL="https://portal.example.com", ENROLLMENT_TOKEN="kpe_abc")
    synced: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda src, dst: synced.append("replace") or real_replace(src, dst))

    agent.write_config(str(config), {"URL": "https://portal.example.com", "TOKEN": "kph_new"})

    assert len(synced) == 2
    assert Path(synced[0]).parent == tmp_path
    assert synced[1] == "replace"
    assert "TOKEN=kph_new" in config.read_text()
    assert oct(config.stat().st_mode & 0o777) == "0o600"


def test_a_request_never_waits_past_the_runs_overall_deadline() -> None:
    loader = importlib.machinery.SourceFileLoader("kinoite_portal_agent", str(AGENT))
    agent = types.ModuleType(loader.name)
    loader.exec_module(agent)
    now = time.monotonic()

    assert agent.time_left(30, now + 600) == 30
    assert 4 <= agent.time_left(30, now + 5) <= 5
    assert agent.time_left(30, now - 10) == 1

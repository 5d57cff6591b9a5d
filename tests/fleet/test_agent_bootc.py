"""The real agent from deploy/client on a bootc desktop, run as a process against the live test server.

bootc and rpm-ostree cannot run on the test machine: a fake ``bootc`` executable (tests/fleet/fake_bootc.py, found
on PATH as the agent finds the real one) prints a recorded ``bootc status --json``, and STATUS_COMMAND prints a
recorded ``rpm-ostree status --json``. Everything else (the agent, HTTP, the portal, the database) is real.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kinoite_portal.fleet.models import CheckIn, Host
from tests.fleet.helpers import PROD_IMAGE, deployment, fake_checksum, machine_id, status_doc
from tests.fleet.test_agent import AGENT, write_config
from tests.fleet.test_bootc_status_parser import DATA

FAKE_BOOTC = Path(__file__).with_name("fake_bootc.py")
SIGNED_DIGEST = "8ee4c90e988b4a97e05025d1d30426215e1fc26446599f1eb3ad288acfd3384c"
LIVE = pytest.mark.django_db(transaction=True)


@pytest.fixture
def desktop(tmp_path: Path, live_server: Any, enroll: Any, finance: Any) -> dict[str, Any]:
    """Return a bootc desktop's files: a host token, rpm-ostree's recorded status, a bin folder holding fake bootc."""
    host, token = enroll(finance, "fin-bootc")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy(FAKE_BOOTC, bin_dir / "bootc")
    rpm_ostree = tmp_path / "rpm-ostree-status.json"
    rpm_ostree.write_text(
        json.dumps(
            status_doc(
                deployment(
                    fake_checksum("ostree commit"),
                    booted=True,
                    origin=None,
                    container=f"ostree-unverified-registry:{PROD_IMAGE}:stable",
                )
            )
        )
    )
    machine = tmp_path / "machine-id"
    machine.write_text(machine_id("fin-bootc") + "\n")
    return {"host": host, "token": token, "bin": bin_dir, "rpm_ostree": rpm_ostree, "machine_id": machine}


def run_agent(desktop: dict[str, Any], tmp_path: Path, live_server: Any, **env_and_config: str) -> Any:
    env = {**os.environ, "PATH": f"{desktop['bin']}:{os.environ['PATH']}"}
    env.update({key: value for key, value in env_and_config.items() if key.startswith("FAKE_BOOTC")})
    values = {
        "URL": live_server.url,
        "TOKEN": desktop["token"],
        "STATUS_COMMAND": f"cat {desktop['rpm_ostree']}",
        "MACHINE_ID_FILE": str(desktop["machine_id"]),
        "GREENBOOT": "off",
        "ATTEMPTS": "2",
    }
    values.update({key: value for key, value in env_and_config.items() if not key.startswith("FAKE_BOOTC")})
    config = write_config(tmp_path / "agent.conf", **values)
    return subprocess.run([str(AGENT), str(config)], capture_output=True, text=True, timeout=60, check=False, env=env)


@LIVE
def test_the_agent_sends_bootc_status_when_bootc_is_on_path(
    desktop: dict[str, Any], tmp_path: Path, live_server: Any
) -> None:
    result = run_agent(desktop, tmp_path, live_server, FAKE_BOOTC_STATUS=str(DATA / "bootc-status-v1-signed.json"))

    assert result.returncode == 0, result.stderr
    checkin = CheckIn.objects.get(host=desktop["host"])
    assert checkin.report["bootc"]["kind"] == "BootcHost"
    assert checkin.report["status"]["deployments"][0]["checksum"] == fake_checksum("ostree commit")
    host = Host.objects.get(pk=desktop["host"].pk)
    assert host.booted_checksum == SIGNED_DIGEST
    assert (host.booted_remote, host.booted_ref) == ("registry.example.com:5000/prod/kinoite", "stable")
    assert host.image_signature == "container-policy"


@LIVE
def test_a_bootc_desktop_without_rpm_ostree_reports_bootc_alone(
    desktop: dict[str, Any], tmp_path: Path, live_server: Any
) -> None:
    result = run_agent(
        desktop,
        tmp_path,
        live_server,
        FAKE_BOOTC_STATUS=str(DATA / "bootc-status-v1alpha1-insecure.json"),
        STATUS_COMMAND=str(tmp_path / "no-such-rpm-ostree") + " status --json",
    )

    assert result.returncode == 0, result.stderr
    report = CheckIn.objects.get(host=desktop["host"]).report
    assert "status" not in report
    host = Host.objects.get(pk=desktop["host"].pk)
    assert host.booted_checksum == "16dc2b6256b4ff0d2ec18d2dbfb06d117904010c8cf9732cdb022818cf7a7566"
    assert host.accepts_unsigned


@LIVE
def test_a_failing_bootc_never_silences_the_rpm_ostree_report(
    desktop: dict[str, Any], tmp_path: Path, live_server: Any
) -> None:
    result = run_agent(
        desktop, tmp_path, live_server, FAKE_BOOTC_STATUS=str(DATA / "missing.json"), FAKE_BOOTC_FAIL="1"
    )

    assert result.returncode == 0, result.stderr
    assert "bootc status skipped: bootc exited 1" in result.stderr
    report = CheckIn.objects.get(host=desktop["host"]).report
    assert "bootc" not in report
    # Recorded from rpm-ostree's report alone: the image digest it reports beside the reference.
    rpm_ostree = json.loads(desktop["rpm_ostree"].read_text())["deployments"][0]
    host = Host.objects.get(pk=desktop["host"].pk)
    assert f"sha256:{host.booted_checksum}" == rpm_ostree["container-image-reference-digest"]
    assert (host.booted_remote, host.booted_ref) == (PROD_IMAGE, "stable")


@LIVE
def test_bootc_off_in_the_config_sends_rpm_ostree_only(
    desktop: dict[str, Any], tmp_path: Path, live_server: Any
) -> None:
    result = run_agent(
        desktop, tmp_path, live_server, FAKE_BOOTC_STATUS=str(DATA / "bootc-status-v1-signed.json"), BOOTC="off"
    )

    assert result.returncode == 0, result.stderr
    assert "bootc" not in CheckIn.objects.get(host=desktop["host"]).report


@LIVE
def test_without_bootc_or_rpm_ostree_the_agent_stops_with_a_local_error(
    desktop: dict[str, Any], tmp_path: Path, live_server: Any
) -> None:
    (desktop["bin"] / "bootc").unlink()
    result = run_agent(desktop, tmp_path, live_server, STATUS_COMMAND=str(tmp_path / "no-rpm-ostree"))

    assert result.returncode == 2
    assert "is not installed" in result.stderr
    assert not CheckIn.objects.exists()

"""Fixtures of the rollout tests: a prod stage with rings, departments, and hosts that check in for real."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from kinoite_portal.fleet.models import Department, Host
from kinoite_portal.fleet.services.checkins import checkin_record
from kinoite_portal.fleet.status_parser import parse_status
from kinoite_portal.releases.models import Commit, Promotion, Stage
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutRing, ring_ref
from tests.fleet.helpers import PROD_REF, fake_checksum, machine_id


@pytest.fixture
def prod(db: None) -> Stage:
    Stage.objects.create(name="dev", order=0, repo_path="dev")
    return Stage.objects.create(name="prod", order=1, repo_path="prod")


@pytest.fixture
def departments(db: None) -> dict[str, Department]:
    return {
        slug: Department.objects.create(name=slug.title(), slug=slug) for slug in ("it", "finance", "sales", "design")
    }


@pytest.fixture
def rings(prod: Stage, departments: dict[str, Department]) -> dict[str, Ring]:
    """pilot (IT), early (finance), broad (design); sales is in no ring, so its hosts are in broad, the last."""
    pilot = Ring.objects.create(stage=prod, name="pilot", order=1)
    pilot.departments.add(departments["it"])
    early = Ring.objects.create(stage=prod, name="early", order=2)
    early.departments.add(departments["finance"])
    broad = Ring.objects.create(stage=prod, name="broad", order=3)
    broad.departments.add(departments["design"])
    return {"pilot": pilot, "early": early, "broad": broad}


@pytest.fixture
def make_host(db: None) -> Callable[..., Host]:
    def make(name: str, department: Department) -> Host:
        return Host.objects.create(hostname=name, machine_id=machine_id(name), department=department)

    return make


def check_in(host: Host, status: dict[str, Any], *, greenboot: str | None = None, at: datetime | None = None) -> None:
    """Record a check-in through the check-in service, optionally back-dated to ``at``."""
    checkin_record(host=host, hostname=host.hostname, status=parse_status(status), report={}, greenboot=greenboot)
    if at is not None:
        Host.objects.filter(pk=host.pk).update(last_checkin_at=at)


@pytest.fixture
def commits(db: None) -> dict[str, Commit]:
    now = timezone.now()
    return {
        label: Commit.objects.create(checksum=fake_checksum(label), version=version, timestamp=now)
        for label, version in (("old", "41.20261101.0"), ("new", "41.20261125.0"))
    }


@pytest.fixture
def make_rollout(prod: Stage, rings: dict[str, Ring], commits: dict[str, Commit]) -> Callable[..., Rollout]:
    """Return a function that makes a rollout of the new commit whose rings moved the given time ago."""

    def make(moved_ago: dict[str, timedelta], **gate: Any) -> Rollout:
        promotion = Promotion.objects.create(
            commit=commits["new"],
            source_stage=Stage.objects.get(name="dev"),
            target_stage=prod,
            target_ref=PROD_REF,
            state=Promotion.State.SUCCEEDED,
            published_commit=commits["new"],
        )
        rollout = Rollout.objects.create(
            promotion=promotion,
            stage=prod,
            stage_ref=PROD_REF,
            commit=commits["new"],
            previous_commit=commits["old"],
        )
        now = timezone.now()
        ordered = sorted(rings.values(), key=lambda ring: ring.order)
        for ring in ordered:
            moved_at = now - moved_ago[ring.name] if ring.name in moved_ago else None
            RolloutRing.objects.create(
                rollout=rollout,
                ring=ring,
                name=ring.name,
                order=ring.order,
                ref=ring_ref(PROD_REF, ring.name),
                is_last=ring is ordered[-1],
                soak_time=gate.get("soak_time", ring.soak_time),
                success_threshold=gate.get("success_threshold", ring.success_threshold),
                failure_threshold=gate.get("failure_threshold", ring.failure_threshold),
                update_timeout=gate.get("update_timeout", ring.update_timeout),
                auto_advance=gate.get("auto_advance", ring.auto_advance),
                state=RolloutRing.State.MOVED if moved_at else RolloutRing.State.WAITING,
                move_requested_at=moved_at,
                moved_at=moved_at,
            )
        return rollout

    return make


# --------------------------------------------------------------------------------------------------------------
# End-to-end fixtures: real dev and prod repos (from the releases tests), desktops as ostree sysroot folders that
# pull from the portal over HTTP, and the real agent reporting them through the rpm-ostree MOCK of this folder.

import subprocess  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from django.conf import settings as django_settings  # noqa: E402

from kinoite_portal.fleet.services.enrollment import enrollment_token_create  # noqa: E402
from kinoite_portal.ostree import run  # noqa: E402
from tests.releases import conftest as releases_fixtures  # noqa: E402
from tests.services import child_environment  # noqa: E402

# The real dev and prod stages, the seed treefile and dev commits, as the releases tests make them.
stages = releases_fixtures.stages
treefile = releases_fixtures.treefile
make_dev_commit = releases_fixtures.make_dev_commit

AGENT = Path(django_settings.BASE_DIR) / "deploy" / "client" / "kinoite-portal-agent"
RING_RPM_OSTREE = Path(__file__).with_name("fake_rpm_ostree.py")
GREEN = "Boot Status is GREEN - Health Check SUCCESS\n"
RED = "Boot Status is RED - Health Check FAILURE!\n"
FALLBACK = "FALLBACK BOOT DETECTED! Default rpm-ostree deployment has been rolled back.\n"


@dataclass
class Desktop:
    """A desktop: an ostree sysroot folder deployed from the portal's prod repo, and its agent's files."""

    name: str
    sysroot: Path
    config: Path
    boot_status: Path

    def agent(self) -> subprocess.CompletedProcess[str]:
        """Run the real agent once: it reports its status and rebases when the portal names another ref."""
        result = subprocess.run([str(AGENT), str(self.config)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{self.name}: {result.stderr}"
        return result

    def boots(self, verdict: str) -> None:
        """Set what greenboot wrote about this boot."""
        self.boot_status.write_text(verdict)

    def deployed(self) -> list[tuple[str, str]]:
        """Return (checksum, origin) of each deployment, the booted one first."""
        mock = subprocess.run(
            [sys.executable, str(RING_RPM_OSTREE), str(self.sysroot), "status", "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        import json

        return [(d["checksum"], d["origin"]) for d in json.loads(mock.stdout)["deployments"]]

    def pull(self, ref: str) -> subprocess.CompletedProcess[str]:
        """Pull ``ref`` from the portal as a stock client would (ref bindings and the summary checked)."""
        return subprocess.run(
            ["ostree", "pull", f"--repo={self.sysroot}/ostree/repo", "prod", ref],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def rev(self, ref: str) -> str:
        return subprocess.run(
            ["ostree", "rev-parse", f"--repo={self.sysroot}/ostree/repo", f"prod:{ref}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()


@pytest.fixture
def make_desktop(tmp_path: Path) -> Any:
    """Return a function that deploys a desktop from the portal's prod ref and enrolls its agent in a department."""
    made: list[Desktop] = []

    def make(name: str, department: Department, url: str, ref: str = PROD_REF) -> Desktop:
        root = tmp_path / "desktops" / name
        sysroot = root / "sysroot"
        sysroot.mkdir(parents=True)
        run(["ostree", "admin", "init-fs", str(sysroot)], timeout=60)
        run(["ostree", "admin", "os-init", "kinoite", f"--sysroot={sysroot}"], timeout=60)
        run(["ostree", "remote", "add", f"--sysroot={sysroot}", "--no-gpg-verify", "prod", f"{url}/repo/prod/"])
        run(["ostree", "pull", f"--repo={sysroot}/ostree/repo", "prod", ref], timeout=120)
        run(["ostree", "admin", "deploy", f"--sysroot={sysroot}", "--os=kinoite", f"prod:{ref}"], timeout=120)
        (root / "machine-id").write_text(machine_id(name) + "\n")
        boot_status = root / "boot-status"
        boot_status.write_text(GREEN)
        mock = f"{sys.executable} {RING_RPM_OSTREE} {sysroot}"
        config = root / "agent.conf"
        config.write_text(
            f"URL={url}\n"
            f"ENROLLMENT_TOKEN={enrollment_token_create(department=department, name=name).raw}\n"
            f"STATUS_COMMAND={mock} status --json\n"
            f"REBASE_COMMAND={mock} rebase\n"
            f"BOOT_STATUS_FILES={boot_status}\n"
            f"MACHINE_ID_FILE={root / 'machine-id'}\n"
            "ATTEMPTS=2\nTIMEOUT=60\n"
        )
        desktop = Desktop(name=name, sysroot=sysroot, config=config, boot_status=boot_status)
        made.append(desktop)
        return desktop

    yield make
    for desktop in made:
        for deployment in desktop.sysroot.glob("ostree/deploy/*/deploy/*.0"):
            subprocess.run(["chattr", "-i", str(deployment)], check=False)


@pytest.fixture
def start_beat(tmp_path: Path) -> Any:
    """Return a function that starts a real ``celery beat`` (the portal's schedule) on this test's broker."""
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / "beat.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "kinoite_portal",
                "beat",
                f"--schedule={tmp_path / 'beat-schedule'}",
                "--loglevel=INFO",
            ],
            cwd=django_settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_environment(),
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# --------------------------------------------------------------------------------------------------------------
# A rollout on real repos, its services run in this process.

from kinoite_portal.releases.services.approvals import approval_grant  # noqa: E402
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run  # noqa: E402


def publish(commit: Any, engineer: Any, approver: Any) -> Promotion:
    promotion = promotion_request(user=engineer, checksum=commit.checksum)
    approval_grant(user=approver, promotion=promotion)
    promotion = promotion_run(promotion_id=promotion.pk)
    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log
    return promotion


@pytest.fixture
def it(db: None) -> Department:
    return Department.objects.create(name="IT", slug="it")


@pytest.fixture
def rollout(
    stages: dict[str, Stage], make_dev_commit: Any, release_engineer: Any, approver: Any, it: Department
) -> Rollout:
    """A rollout of a new commit whose pilot ring (IT) has it; early and broad wait. The old commit is on stable."""
    Stage.objects.filter(pk=stages["prod"].pk).update(min_days_in_previous_stage=0)
    publish(make_dev_commit("41.20261101.0"), release_engineer, approver)
    for order, name in enumerate(("pilot", "early", "broad"), start=1):
        Ring.objects.create(stage=stages["prod"], name=name, order=order, soak_time=timedelta(hours=24))
    Ring.objects.get(name="pilot").departments.add(it)
    promotion = publish(make_dev_commit("41.20261125.0"), release_engineer, approver)
    return Rollout.objects.select_related("stage", "commit", "previous_commit").get(promotion=promotion)

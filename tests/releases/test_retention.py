"""Retention (repo_prune, `manage.py prune`, the nightly task) on real ostree repos."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.fleet.models import Department, Host
from kinoite_portal.ostree import LockTimeout, Repo, portal_lock
from kinoite_portal.releases.models import Stage
from kinoite_portal.releases.services.promotions import promotion_request
from kinoite_portal.releases.services.retention import RETAIN_PREFIX, repo_prune
from kinoite_portal.releases.tasks.retention import repo_prune_all_task
from kinoite_portal.schedules import BEAT_SCHEDULE
from tests.releases.conftest import REF_DEV
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def ostree(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ostree", *args, f"--repo={repo}"], capture_output=True, text=True, check=check)


def object_files(repo: Path) -> set[str]:
    return {str(p.relative_to(repo)) for p in (repo / "objects").rglob("*") if p.is_file()}


def exists(repo: Path, checksum: str) -> bool:
    return ostree(repo, "show", checksum, check=False).returncode == 0


def history(repo: Path, ref: str) -> list[str]:
    return [line.split()[1] for line in ostree(repo, "log", ref).stdout.splitlines() if line.startswith("commit ")]


@pytest.fixture
def dev(stages: dict[str, Stage]) -> Stage:
    stage = stages["dev"]
    stage.retention_depth = 1
    stage.save()
    return stage


@pytest.fixture
def four_commits(make_dev_commit):  # type: ignore[no-untyped-def]
    return [make_dev_commit(f"41.20261120.{n}", bash=f"5.2.3{n}") for n in range(4)]


def test_it_keeps_the_retention_depth_and_fsck_is_clean_after(dev, four_commits) -> None:
    repo = dev.repo_dir
    summary_before = (repo / "summary").stat().st_mtime_ns if (repo / "summary").exists() else 0

    report = repo_prune(stage=dev)

    # depth 1: the head and one parent stay, the two oldest go.
    assert history(repo, REF_DEV) == [four_commits[3].checksum, four_commits[2].checksum]
    assert "History beyond this commit not fetched" in ostree(repo, "log", REF_DEV).stdout
    assert not exists(repo, four_commits[0].checksum)
    assert not exists(repo, four_commits[1].checksum)
    assert report.deleted_objects > 0
    assert report.fsck_ok is True
    assert ostree(repo, "fsck").returncode == 0
    assert (repo / "summary").stat().st_mtime_ns > summary_before
    assert ostree(repo, "refs").stdout.split() == [REF_DEV]
    assert any(c.startswith("ostree prune") and "--refs-only" in c and "--depth=1" in c for c in report.commands)
    event = AuditEvent.objects.get(action="repo.prune")
    assert event.data["deleted_objects"] == report.deleted_objects
    assert event.commands == report.commands
    assert any(c.startswith("ostree fsck") for c in event.commands)


def test_a_commit_a_desktop_still_boots_survives(dev, four_commits) -> None:
    dev.retention_depth = 0
    dev.save()
    department = Department.objects.create(name="Finance", slug="finance")
    Host.objects.create(
        hostname="fin-01",
        machine_id="a" * 32,
        department=department,
        booted_checksum=four_commits[0].checksum,
        rollback_checksum=four_commits[1].checksum,
    )
    Host.objects.create(hostname="fin-02", machine_id="b" * 32, department=department, booted_checksum="not-a-checksum")
    repo = dev.repo_dir

    report = repo_prune(stage=dev)

    assert report.protected == sorted([four_commits[0].checksum, four_commits[1].checksum])
    assert exists(repo, four_commits[0].checksum)  # booted
    assert exists(repo, four_commits[1].checksum)  # its rollback deployment
    assert not exists(repo, four_commits[2].checksum)  # nobody needs it: pruned
    assert history(repo, REF_DEV) == [four_commits[3].checksum]
    assert ostree(repo, "refs", "--list", RETAIN_PREFIX).stdout == ""  # the temporary refs are gone
    assert ostree(repo, "fsck").returncode == 0


def test_an_open_promotions_commit_survives(dev, four_commits, release_engineer) -> None:
    dev.retention_depth = 0
    dev.save()
    promotion = promotion_request(user=release_engineer, checksum=four_commits[1].checksum, comment="pilot OK")
    repo = dev.repo_dir

    report = repo_prune(stage=dev)

    assert promotion.state == "requested"
    assert report.protected == [four_commits[1].checksum]
    assert exists(repo, four_commits[1].checksum)
    assert not exists(repo, four_commits[0].checksum)
    assert not exists(repo, four_commits[2].checksum)
    assert ostree(repo, "fsck").returncode == 0


def test_a_finished_promotion_protects_nothing(dev, four_commits, release_engineer) -> None:
    dev.retention_depth = 0
    dev.save()
    promotion = promotion_request(user=release_engineer, checksum=four_commits[1].checksum)
    promotion.state = "cancelled"
    promotion.save()

    report = repo_prune(stage=dev)

    assert report.protected == []
    assert not exists(dev.repo_dir, four_commits[1].checksum)


def test_a_dry_run_deletes_nothing(dev, four_commits) -> None:
    repo = dev.repo_dir
    objects_before = object_files(repo)
    refs_before = ostree(repo, "refs").stdout
    summary_before = (repo / "summary").read_bytes() if (repo / "summary").exists() else None

    report = repo_prune(stage=dev, dry_run=True)

    assert report.deleted_objects > 0  # what it would delete
    assert object_files(repo) == objects_before
    assert ostree(repo, "refs").stdout == refs_before
    assert ((repo / "summary").read_bytes() if (repo / "summary").exists() else None) == summary_before
    assert len(history(repo, REF_DEV)) == 4
    assert any("--no-prune" in c for c in report.commands)
    assert AuditEvent.objects.filter(action="repo.prune_dry_run").count() == 1


def test_a_stage_without_a_retention_depth_is_left_alone(stages, four_commits) -> None:
    repo = stages["dev"].repo_dir
    objects_before = object_files(repo)

    report = repo_prune(stage=stages["dev"])

    assert "no retention depth" in report.skipped
    assert report.commands == []
    assert object_files(repo) == objects_before
    assert not AuditEvent.objects.filter(action="repo.prune").exists()


def test_it_waits_for_a_job_holding_the_repo_and_changes_nothing_when_it_gives_up(dev, four_commits, settings) -> None:
    repo = dev.repo_dir
    objects_before = object_files(repo)

    with portal_lock(settings.PORTAL_LOCK_DIR, f"repo-{dev.name}", timeout=1), pytest.raises(LockTimeout):
        repo_prune(stage=dev, lock_timeout=0.3)

    assert object_files(repo) == objects_before
    assert not AuditEvent.objects.filter(action="repo.prune").exists()


def test_it_writes_a_signed_summary_when_the_stage_has_a_key(dev, four_commits, short_gnupg_root) -> None:
    from kinoite_portal.releases.services.signing import signing_key_generate

    signing_key_generate(stage=dev, name="Dev signing (test)", email="dev@portal.invalid")
    dev.refresh_from_db()

    report = repo_prune(stage=dev)

    assert any("summary" in c and "--gpg-sign=" in c for c in report.commands)
    assert (dev.repo_dir / "summary.sig").is_file()
    assert report.fsck_ok is True


def test_the_command_prints_progress_and_refuses_an_unknown_stage(dev, four_commits) -> None:
    out = io.StringIO()

    call_command("prune", "dev", "--dry-run", stdout=out)

    text = out.getvalue()
    assert "dev: pruning to depth 1 (dry run: nothing is deleted)" in text
    assert "+ ostree prune" in text
    assert "Would delete" in text
    assert len(history(dev.repo_dir, REF_DEV)) == 4
    with pytest.raises(CommandError, match="no stage 'qa'"):
        call_command("prune", "qa", stdout=io.StringIO())


@pytest.mark.slow
def test_the_nightly_task_prunes_every_stage_with_a_depth_on_a_worker(dev, four_commits, start_worker) -> None:
    start_worker(queues="repo")
    assert BEAT_SCHEDULE["releases.repo_prune_all"]["task"] == "releases.repo_prune_all"

    repo_prune_all_task.delay()

    event = wait_until(lambda: AuditEvent.objects.filter(action="repo.prune").first(), message="prune audited")
    assert event.object_id == str(dev.pk)
    assert history(dev.repo_dir, REF_DEV) == [four_commits[3].checksum, four_commits[2].checksum]
    assert Repo(dev.repo_dir).fsck().ok

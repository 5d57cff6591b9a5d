"""Item 1: the portal's promotion task on a real Celery worker against the bare ostree commands it wraps.

A commit of ~10,000 files / 200 MB (half random, half text, as in ostree-lab-notes 4.2) is in dev and prod; a second
commit changes ~100 files. Baseline: on a fresh copy of prod, ``pull-local`` by checksum, ``refs --force --create``
and ``summary -u``, run through kinoite_portal.ostree's runner. Measured: the same promotion requested and approved
through the services, carried out by ``releases.promotion_run`` on a worker, from ``started_at`` to ``finished_at``.
The static delta is generated afterwards by a task of its own (``releases.static_delta``; item 5 measures it).
Runs alternate (bare, task, bare, ...) on the same filesystem.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from bench import trees
from bench.common import (
    celery_worker,
    configure_celery_client,
    django_setup,
    median,
    percentile,
    portal_environment,
    postgres_database,
    promote_through_worker,
    say,
    scratch_dir,
)
from bench.report import ItemResult, Row
from tests.services import redis_server

DEV_REF = "fedora/x86_64/kinoite/dev"
PROD_REF = "fedora/x86_64/kinoite/stable"
SMALL_DEV_REF = "bench/x86_64/latency/dev"
SMALL_PROD_REF = "bench/x86_64/latency/stable"
FULL = {"files": 10_000, "bytes": 200 * 1024 * 1024, "modified": 100, "added": 20, "removed": 10, "latency": 10}
QUICK = {"files": 100, "bytes": 200 * 1024, "modified": 10, "added": 2, "removed": 1, "latency": 3}
RUNS = 3
TARGET_RATIO = 1.15
TARGET_LATENCY = 0.5


def _metadata(version: str, packages: list[Any]) -> dict[str, object]:
    return {"version": version, "rpmostree.inputhash": f"bench-{version}", "rpmostree.rpmdb.pkglist": packages}


def _copy_repo(source: Path, dest: Path) -> None:
    subprocess.run(["cp", "-a", str(source), str(dest)], check=True)


def _bare_promotion(dev: Path, prod: Path, old: str, new: str) -> float:
    from kinoite_portal.ostree import run

    started = time.perf_counter()
    run(["ostree", "pull-local", f"--repo={prod}", "--depth=0", str(dev), new])
    run(["ostree", "refs", f"--repo={prod}", "--force", f"--create={PROD_REF}", new])
    run(["ostree", "summary", "-u", f"--repo={prod}"])
    return time.perf_counter() - started


def run(*, quick: bool) -> ItemResult:
    result = ItemResult(1, "Promotion overhead")
    scale = QUICK if quick else FULL
    with scratch_dir("promotion") as tmp, postgres_database() as db_url, redis_server(tmp) as redis_url:
        var = tmp / "var"
        env = portal_environment(
            database_url=db_url, var_dir=var, extra={"REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url}
        )
        django_setup(env)
        configure_celery_client(redis_url)
        from django.contrib.auth.models import Group, User

        from kinoite_portal.core import roles
        from kinoite_portal.ostree import Repo
        from kinoite_portal.releases.models import Stage, Treefile

        repos = tmp / "repos"
        dev = Repo.init(repos / "dev")
        base = Repo.init(repos / "prod-base")
        say(f"item 1: writing a tree of {scale['files']:,} files / {scale['bytes'] / 2**20:.0f} MB")
        tree = trees.build(tmp / "tree", files=scale["files"], total_bytes=scale["bytes"])
        say("item 1: committing v1 to dev")
        # Bound to both refs, as a compose for this treefile would be, so prod can publish it as is (no re-commit).
        binds = [PROD_REF]
        v1 = dev.commit(
            branch=DEV_REF,
            subject="Kinoite 41.20261125.0",
            tree_dir=tree.root,
            bind_refs=binds,
            metadata=_metadata("41.20261125.0", trees.package_list(tree)),
        )
        trees.change_files(tree, modified=scale["modified"], added=scale["added"], removed=scale["removed"])
        say(f"item 1: committing v2 ({scale['modified']} modified, {scale['added']} added, {scale['removed']} removed)")
        v2 = dev.commit(
            branch=DEV_REF,
            subject="Kinoite 41.20261126.0",
            tree_dir=tree.root,
            bind_refs=binds,
            metadata=_metadata("41.20261126.0", trees.package_list(tree, updated=tree.packages[:3])),
        )
        base.pull_local(dev, v1)
        base.set_ref(PROD_REF, v1)
        base.update_summary()

        small_commits = []
        for index in range(scale["latency"]):
            small = tmp / f"small-{index}"
            (small / "usr/lib").mkdir(parents=True)
            (small / "usr/lib/os-release").write_text(f"VERSION_ID=41\nBENCH={index}\n")
            small_commits.append(
                dev.commit(
                    branch=SMALL_DEV_REF,
                    subject=f"latency {index}",
                    tree_dir=small,
                    bind_refs=[SMALL_PROD_REF],
                    metadata=_metadata(f"41.20261125.{index + 1}", []),
                )
            )
        base.pull_local(dev, small_commits[0])
        base.set_ref(SMALL_PROD_REF, small_commits[0])
        base.update_summary()
        small_commits = small_commits[1:]

        Stage.objects.create(name="dev", order=0, repo_path=str(dev.path))
        prod_stage = Stage.objects.create(
            name="prod", order=1, repo_path=str(base.path), required_approvals=1, min_days_in_previous_stage=0
        )
        Treefile.objects.create(name="kinoite", content={"ref": DEV_REF}, published_ref=PROD_REF)
        Treefile.objects.create(name="latency", content={"ref": SMALL_DEV_REF}, published_ref=SMALL_PROD_REF)
        requester = User.objects.create_user("bench-rita", password="x")
        requester.groups.add(Group.objects.get(name=roles.RELEASE_ENGINEERS))
        approver = User.objects.create_user("bench-alice", password="x")
        approver.groups.add(Group.objects.get(name=roles.APPROVERS))

        bare_times: list[float] = []
        task_times: list[float] = []
        commands: list[str] = []
        say("item 1: starting a Celery worker (queues default, repo)")
        # Promotions only: the static delta and the change count follow on the default queue, and would share the
        # two cores with the next bare run.
        with celery_worker(env, tmp, queues="repo"):
            for attempt in range(RUNS):
                bare_copy = repos / f"prod-bare-{attempt}"
                _copy_repo(base.path, bare_copy)
                bare_times.append(_bare_promotion(dev.path, bare_copy, v1, v2))
                subprocess.run(["rm", "-rf", str(bare_copy)], check=True)
                say(f"item 1: bare commands run {attempt + 1}/{RUNS}: {bare_times[-1]:.3f} s")

                task_copy = repos / f"prod-task-{attempt}"
                _copy_repo(base.path, task_copy)
                Stage.objects.filter(pk=prod_stage.pk).update(repo_path=str(task_copy))
                promotion = promote_through_worker(v2, requester, approver)
                task_times.append((promotion.finished_at - promotion.started_at).total_seconds())
                commands = [line[2:] for line in promotion.log.splitlines() if line.startswith("+ ")]
                if attempt < RUNS - 1:
                    subprocess.run(["rm", "-rf", str(task_copy)], check=True)
                say(f"item 1: promotion task run {attempt + 1}/{RUNS}: {task_times[-1]:.3f} s")

            latencies: list[float] = []
            queued_latencies: list[float] = []
            for index, checksum in enumerate(small_commits):
                promotion = promote_through_worker(checksum, requester, approver)
                latencies.append((promotion.started_at - promotion.approved_at).total_seconds())
                queued_latencies.append((promotion.started_at - promotion.queued_at).total_seconds())
                say(f"item 1: approval -> start {index + 1}/{len(small_commits)}: {latencies[-1] * 1000:.0f} ms")

    bare, task = median(bare_times), median(task_times)
    result.rows.append(
        Row(
            1,
            f"promotion, {scale['modified']} files changed: task vs bare commands, median of {RUNS}",
            task,
            bare,
            "s",
            f"<= {TARGET_RATIO}x",
            task / bare <= TARGET_RATIO,
        )
    )
    result.rows.append(
        Row(
            1,
            f"approval -> worker start, median of {len(latencies)}",
            median(latencies),
            None,
            "s",
            f"< {TARGET_LATENCY} s",
            median(latencies) < TARGET_LATENCY,
        )
    )
    result.notes.append(
        f"tree: {scale['files']:,} files, {scale['bytes'] / 2**20:.0f} MB (half random, half text); runs (s): bare "
        + " / ".join(f"{t:.3f}" for t in bare_times)
        + "; task "
        + " / ".join(f"{t:.3f}" for t in task_times)
    )
    bare_commands = {"pull-local", "refs", "summary"}
    extra = [c for c in commands if c.split()[1:2] and c.split()[1] not in bare_commands]
    result.notes.append(
        f"the task ran {len(commands)} commands against the bare 3; the extra ones: "
        + ("; ".join(_short(c) for c in extra) or "none")
        + ". Besides commands it writes the promotion log row once per log line and imports the commit row."
    )
    result.notes.append(
        f"approval -> worker start: p95 {percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
        f"(queued -> start median {median(queued_latencies) * 1000:.0f} ms; approved_at and queued_at are the same "
        "instant); measured on small commits, so the worker was idle each time."
    )
    return result


def _short(command: str) -> str:
    parts = [p if not p.startswith("--repo=") else "--repo=…" for p in command.split()]
    return " ".join(p[:12] + "…" if len(p) == 64 else p for p in parts)

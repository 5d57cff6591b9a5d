"""Item 3: check-ins per second through gunicorn with the production settings, against GET /livez on the same server.

10,000 hosts are enrolled (a host row with a hashed token each, as /api/v1/enroll leaves it); the load generator is
wrk with bench/load.lua, which posts a real-sized ``rpm-ostree status --json`` document (~3 KB, three deployments)
with each host's own token and machine id, cycling through the hosts. Every run is bounded in time and count.

Then the same check-ins once more with rings on prod and a rollout running (what a check-in then adds: the ring's
ref in its answer from the per-process ring layout, and the debounced gate evaluation: a Redis SET, at most one
queued task per window), against a throwaway Redis, so the baseline of that row is the run without rings.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import statusdoc
from bench.common import django_setup, gunicorn, portal_environment, postgres_database, say, scratch_dir
from bench.report import ItemResult, Row
from tests.services import redis_server

# Runs end after "seconds"; "limit" responses is only a safety bound (wrk keeps counting time after a thread stops,
# so a run that reached it would understate the rate: the run is then reported as failed).
FULL = {"hosts": 10_000, "seconds": 20, "limit": 1_000_000, "warmup": 3}
QUICK = {"hosts": 100, "seconds": 3, "limit": 100_000, "warmup": 1}
CONNECTIONS = 8
TARGET_RATIO = 0.5
SCRIPT = Path(__file__).resolve().parent / "load.lua"


def _enroll(count: int, requests_file: Path) -> None:
    """Create ``count`` enrolled hosts and write one "token<TAB>body" line per host for wrk."""
    from kinoite_portal.core import tokens
    from kinoite_portal.fleet.models import Department, Host
    from kinoite_portal.fleet.services.enrollment import HOST_TOKEN_KIND

    departments = Department.objects.bulk_create(
        [Department(name=f"Department {d:02d}", slug=f"dept-{d:02d}") for d in range(1, 51)]
    )
    hosts = []
    with requests_file.open("w") as out:
        for index in range(1, count + 1):
            token = tokens.token_new(HOST_TOKEN_KIND)
            hosts.append(
                Host(
                    hostname=statusdoc.hostname(index),
                    machine_id=statusdoc.machine_id(index),
                    department=departments[index % len(departments)],
                    token_hash=token.token_hash,
                    token_prefix=token.prefix,
                )
            )
            out.write(f"{token.raw}\t{json.dumps(statusdoc.checkin_body(index))}\n")
    Host.objects.bulk_create(hosts, batch_size=2000)


def _rings_and_a_rollout() -> None:
    """Prod with rings (pilot: 2 departments, early: 8, broad: the rest), their refs, and a rollout running."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from kinoite_portal.fleet.models import Department
    from kinoite_portal.releases.models import Commit, Promotion, Ref, Stage, Treefile
    from kinoite_portal.rollouts.models import Ring, Rollout, RolloutRing, ring_ref

    dev = Stage.objects.create(name="dev", order=0, repo_path="bench-missing/dev")
    prod = Stage.objects.create(name="prod", order=1, repo_path="bench-missing/prod")
    Treefile.objects.create(name="kinoite", content={"ref": "kinoite/dev"}, published_ref=statusdoc.PROD_REF)
    new = Commit.objects.create(checksum=statusdoc.fake_checksum("ring-new"), version="41.2", timestamp=timezone.now())
    promotion = Promotion.objects.create(
        commit=new,
        source_stage=dev,
        target_stage=prod,
        target_ref=statusdoc.PROD_REF,
        state=Promotion.State.SUCCEEDED,
        requested_by=User.objects.create_user("bench-rita", password="x"),
        published_commit=new,
    )
    rollout = Rollout.objects.create(promotion=promotion, stage=prod, stage_ref=statusdoc.PROD_REF, commit=new)
    departments = list(Department.objects.order_by("pk"))
    now = timezone.now()
    for order, (name, members) in enumerate(
        (("pilot", departments[:2]), ("early", departments[2:10]), ("broad", [])), start=1
    ):
        ring = Ring.objects.create(stage=prod, name=name, order=order)
        ring.departments.set(members)
        moved = name in ("pilot", "early")
        Ref.objects.create(stage=prod, name=ring_ref(statusdoc.PROD_REF, name), head=new if moved else None)
        RolloutRing.objects.create(
            rollout=rollout,
            ring=ring,
            name=name,
            order=order,
            ref=ring_ref(statusdoc.PROD_REF, name),
            is_last=name == "broad",
            soak_time=ring.soak_time,
            success_threshold=ring.success_threshold,
            failure_threshold=ring.failure_threshold,
            update_timeout=ring.update_timeout,
            auto_advance=ring.auto_advance,
            state=RolloutRing.State.MOVED if moved else RolloutRing.State.WAITING,
            move_requested_at=now if moved else None,
            moved_at=now if moved else None,
        )


def _wrk(port: int, mode: str, requests_file: Path, *, seconds: int, limit: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: run deploy/dev/install-system-packages.sh bench")
    cmd = [
        wrk,
        "-t1",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        f"http://127.0.0.1:{port}",
        "--",
        mode,
        str(requests_file),
        str(limit),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{proc.stdout}\n{proc.stderr}")
    data: dict[str, Any] = json.loads(line)
    data["rate"] = data["requests"] / (data["duration_us"] / 1e6)
    data["failed"] = sum(data[key] for key in ("connect", "read", "write", "status", "timeout"))
    if data["requests"] >= limit:
        raise RuntimeError(f"{mode}: {limit} responses before {seconds} s ended; raise the limit to measure a rate")
    return data


def run(*, quick: bool) -> ItemResult:
    result = ItemResult(3, "Check-in throughput")
    scale = QUICK if quick else FULL
    with scratch_dir("checkin") as tmp, postgres_database() as db_url, redis_server(tmp) as redis_url:
        env = portal_environment(
            database_url=db_url, var_dir=tmp / "var", extra={"REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url}
        )
        django_setup(env)
        from kinoite_portal.fleet.models import CheckIn, Host

        requests_file = tmp / "requests.tsv"
        say(f"item 3: enrolling {scale['hosts']:,} hosts")
        _enroll(scale["hosts"], requests_file)
        server_env = {
            **env,
            "PORTAL_PRODUCTION": "1",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
        }
        with gunicorn(server_env, tmp) as (port, source):
            say(f"item 3: gunicorn on 127.0.0.1:{port} ({source}); warming up")
            _wrk(port, "livez", requests_file, seconds=scale["warmup"], limit=scale["limit"])
            _wrk(port, "checkin", requests_file, seconds=scale["warmup"], limit=scale["limit"])
            warm = CheckIn.objects.count()
            say(f"item 3: GET /livez for {scale['seconds']} s")
            livez = _wrk(port, "livez", requests_file, seconds=scale["seconds"], limit=scale["limit"])
            say(f"item 3: POST /api/v1/checkin for {scale['seconds']} s")
            checkin = _wrk(port, "checkin", requests_file, seconds=scale["seconds"], limit=scale["limit"])
            _rings_and_a_rollout()
            from kinoite_portal.rollouts.following import LAYOUT_SECONDS

            time.sleep(LAYOUT_SECONDS)  # the server's processes keep the ring layout (no rings yet) this long
            say(f"item 3: POST /api/v1/checkin with rings and a rollout running, for {scale['seconds']} s")
            _wrk(port, "checkin", requests_file, seconds=scale["warmup"], limit=scale["limit"])
            ringed = _wrk(port, "checkin", requests_file, seconds=scale["seconds"], limit=scale["limit"])
        stored = CheckIn.objects.count() - warm
        reporting = Host.objects.filter(last_checkin_at__isnull=False).count()
    ratio = checkin["rate"] / livez["rate"]
    result.rows.append(
        Row(
            3,
            "check-ins per second (baseline GET /livez per second)",
            checkin["rate"],
            livez["rate"],
            "/s",
            f">= {TARGET_RATIO}x",
            ratio >= TARGET_RATIO and not checkin["failed"],
        )
    )
    result.rows.append(
        Row(3, "check-in p95 latency (baseline /livez p95)", checkin["p95_us"] / 1000, livez["p95_us"] / 1000, "ms")
    )
    result.rows.append(
        Row(
            3,
            "failed check-ins (baseline failed /livez)",
            checkin["failed"],
            livez["failed"],
            "",
            "0",
            checkin["failed"] == 0 and livez["failed"] == 0,
        )
    )
    result.rows.append(
        Row(
            3,
            "check-ins per second with rings and a rollout running (baseline: without rings)",
            ringed["rate"],
            checkin["rate"],
            "/s",
            "0 failed",
            ringed["failed"] == 0,
        )
    )
    result.notes.append(
        f"gunicorn with PORTAL_PRODUCTION=1 and {source}; wrk (bench/load.lua), 1 thread, {CONNECTIONS} connections, "
        f"{scale['seconds']} s (at most {scale['limit']:,} responses) per run, on the same 2 cores as the server "
        "and PostgreSQL"
    )
    result.notes.append(
        f"{checkin['requests']:,} check-ins in {checkin['duration_us'] / 1e6:.1f} s from {scale['hosts']:,} hosts "
        f"(~{len(json.dumps(statusdoc.checkin_body(1))):,} bytes each); {stored:,} stored, {reporting:,} hosts have "
        f"reported; p50 {checkin['p50_us'] / 1000:.1f} ms, p99 {checkin['p99_us'] / 1000:.1f} ms; /livez p50 "
        f"{livez['p50_us'] / 1000:.1f} ms"
    )
    return result

"""Item 2: the busiest pages on PostgreSQL at 1/10 of the data and at full size, in-process (Django test Client).

Full size: 5,000 commits, 1,000 promotions, 10,000 hosts in 50 departments, 1,000,000 check-ins, seeded with
set-based SQL (INSERT ... SELECT generate_series). The 1/10 data set is seeded first and measured, then topped up
to full size and measured again, so the query counts of both sizes sit side by side.
"""

from __future__ import annotations

import json
import time
from typing import Any

from bench import statusdoc
from bench.common import (
    django_setup,
    median,
    percentile,
    portal_environment,
    postgres_database,
    queries_of_get,
    say,
    scratch_dir,
)
from bench.report import ItemResult, Row

FULL = {"commits": 5_000, "promotions": 1_000, "hosts": 10_000, "checkins": 1_000_000, "requests": 30, "cap": 20.0}
QUICK = {"commits": 50, "promotions": 10, "hosts": 100, "checkins": 1_000, "requests": 5, "cap": 5.0}
DEPARTMENTS = 50
PACKAGES_PER_COMMIT = 300
TARGET_MS = 150.0
DEV_REF = "fedora/x86_64/kinoite/dev"
PROD_REF = "fedora/x86_64/kinoite/stable"


def _sql(cursor: Any, statement: str, params: Any = None) -> int:
    cursor.execute(statement, params)
    return int(cursor.rowcount)


def _seed_fixed(cursor: Any, user_id: int) -> None:
    """Stages, treefile, refs and departments: the parts that do not grow."""
    _sql(
        cursor,
        """
        INSERT INTO releases_stage (id, name, "order", kind, repo_path, image_registry, image_repository,
            registry_tls_verify, public_url, required_approvals, min_days_in_previous_stage, expedite_extra_approvals,
            rollback_required_approvals)
        VALUES (1, 'dev', 0, 'ostree', 'bench-missing/dev', '', '', true, '', 1, 7, 1, 1),
            (2, 'prod', 1, 'ostree', 'bench-missing/prod', '', '', true, '', 1, 7, 1, 1)
    """,
    )
    _sql(
        cursor,
        """
        INSERT INTO releases_treefile (id, name, kind, description, content, published_ref, schedule, enabled,
            created_at, updated_at)
        VALUES (1, 'kinoite', 'treefile', 'Fedora Kinoite for the office', %s::jsonb, %s, '0 2 * * *', true, now(),
            now())
    """,
        [json.dumps({"ref": DEV_REF, "releasever": 41, "packages": ["plasma-desktop"]}), PROD_REF],
    )
    _sql(
        cursor,
        """
        INSERT INTO releases_ref (id, stage_id, name, updated_at) VALUES (1, 1, %s, now()), (2, 2, %s, now())
    """,
        [DEV_REF, PROD_REF],
    )
    _sql(
        cursor,
        """
        INSERT INTO fleet_department (id, name, slug)
        SELECT d, 'Department ' || lpad(d::text, 2, '0'), 'dept-' || lpad(d::text, 2, '0')
        FROM generate_series(1, %s) AS d
    """,
        [DEPARTMENTS],
    )


def _seed_range(cursor: Any, lo: dict[str, int], hi: dict[str, int], user_id: int, full: dict[str, int]) -> None:
    """Add the rows numbered (lo, hi] of each growing table."""
    packages = json.dumps([[f"package-{n:04d}", 0, "1.0", "1.fc41", "x86_64"] for n in range(PACKAGES_PER_COMMIT)])
    n = _sql(
        cursor,
        """
        INSERT INTO releases_commit (id, checksum, content_checksum, parent_checksum, version, timestamp, subject, body,
            input_hash, ref_binding, packages, package_count, metadata, imported_at)
        SELECT i, encode(sha256(('commit-' || i)::bytea), 'hex'), encode(sha256(('tree-' || i)::bytea), 'hex'),
            CASE WHEN i > 1 THEN encode(sha256(('commit-' || (i - 1))::bytea), 'hex') ELSE '' END,
            '41.' || to_char(now() - (%(full)s - i) * interval '3 hours', 'YYYYMMDD') || '.' || (i %% 8),
            now() - (%(full)s - i) * interval '3 hours', 'Kinoite compose ' || i, '',
            encode(sha256(('input-' || i)::bytea), 'hex'), %(binding)s::jsonb,
            jsonb_set(%(packages)s::jsonb, '{0,2}', to_jsonb('1.' || i)), %(count)s,
            jsonb_build_object('version', '41.' || i,
                'rpmostree.inputhash', encode(sha256(('input-' || i)::bytea), 'hex'), 'ostree.bootable', true),
            now()
        FROM generate_series(%(lo)s + 1, %(hi)s) AS i
    """,
        {
            "lo": lo["commits"],
            "hi": hi["commits"],
            "full": full["commits"],
            "packages": packages,
            "count": PACKAGES_PER_COMMIT,
            "binding": json.dumps([DEV_REF, PROD_REF]),
        },
    )
    say(f"item 2: {n:,} commits")
    n = _sql(
        cursor,
        """
        INSERT INTO releases_refupdate (id, ref_id, commit_id, previous_commit_id, moved_at, source)
        SELECT i, 1, i, NULLIF(i - 1, 0), now() - (%(full)s - i) * interval '3 hours' + interval '10 minutes', 'compose'
        FROM generate_series(%(lo)s + 1, %(hi)s) AS i
    """,
        {"lo": lo["commits"], "hi": hi["commits"], "full": full["commits"]},
    )
    say(f"item 2: {n:,} dev ref updates")
    # Promotion j publishes commit 5j - 2, so dev is always a couple of commits ahead of prod.
    log = "\n".join(
        [
            "# promote",
            "+ ostree pull-local --repo=/srv/ostree/prod --depth=0 /srv/ostree/dev CSUM",
            "+ ostree refs --repo=/srv/ostree/prod --force --create=fedora/x86_64/kinoite/stable CSUM",
            "+ ostree static-delta generate --repo=/srv/ostree/prod --from=OLD --to=NEW",
            "+ ostree summary --repo=/srv/ostree/prod -u",
            "# done",
        ]
    )
    n = _sql(
        cursor,
        """
        INSERT INTO releases_promotion (id, kind, state, treefile_id, commit_id, source_stage_id, target_stage_id,
            target_ref, requested_by_id, requested_at, comment, expedited, expedite_reason, approved_at, queued_at,
            started_at, finished_at, previous_head_id, previous_head_recorded, published_commit_id, failure_reason, log,
            policy, moved_ref, bound_refs)
        SELECT j, 'promote', 'succeeded', 1, 5 * j - 2, 1, 2, %(ref)s, %(user)s, t, 'weekly update', false, '',
            t + interval '1 hour', t + interval '1 hour', t + interval '61 minutes', t + interval '62 minutes',
            CASE WHEN j > 1 THEN 5 * j - 7 END, true, 5 * j - 2, '', %(log)s,
            '{"satisfied": true, "reasons": []}'::jsonb, %(ref)s, '[]'::jsonb
        FROM (SELECT j, now() - (%(full)s - (5 * j - 2)) * interval '3 hours' + interval '1 hour' AS t
              FROM generate_series(%(lo)s + 1, %(hi)s) AS j) AS p
    """,
        {
            "lo": lo["promotions"],
            "hi": hi["promotions"],
            "full": full["commits"],
            "ref": PROD_REF,
            "user": user_id,
            "log": log,
        },
    )
    _sql(
        cursor,
        """
        INSERT INTO releases_approval (promotion_id, user_id, decision, comment, created_at)
        SELECT j, %(user)s, 'approve', 'looks good', now() FROM generate_series(%(lo)s + 1, %(hi)s) AS j
    """,
        {"lo": lo["promotions"], "hi": hi["promotions"], "user": user_id},
    )
    _sql(
        cursor,
        """
        INSERT INTO releases_refupdate (id, ref_id, commit_id, previous_commit_id, moved_at, source, promotion_id)
        SELECT 1000000 + j, 2, 5 * j - 2, CASE WHEN j > 1 THEN 5 * j - 7 END, p.finished_at, 'promotion', j
        FROM generate_series(%(lo)s + 1, %(hi)s) AS j JOIN releases_promotion AS p ON p.id = j
    """,
        {"lo": lo["promotions"], "hi": hi["promotions"]},
    )
    say(f"item 2: {n:,} promotions with their approvals and prod ref updates")
    n = _sql(
        cursor,
        """
        INSERT INTO fleet_host (id, hostname, machine_id, department_id, token_hash, token_prefix, enrolled_at,
            last_checkin_at, booted_checksum, booted_version, booted_origin, booted_remote, booted_ref, booted_layered,
            booted_is_container, staged_checksum, staged_version, rollback_checksum, rollback_version, health,
            is_silent, deployments, booted_default, image_signature)
        SELECT h, 'desk-' || lpad(h::text, 5, '0') || '.corp.example.com', md5('machine-' || h), 1 + h %% %(depts)s,
            encode(sha256(('token-' || h)::bytea), 'hex'), 'kph_' || substr(md5('t' || h), 1, 7), now(), now(), '', '',
            '', 'prod', %(ref)s, true, false, '', '', '', '', 'green', false, '[]'::jsonb, true, ''
        FROM generate_series(%(lo)s + 1, %(hi)s) AS h
    """,
        {"lo": lo["hosts"], "hi": hi["hosts"], "depts": DEPARTMENTS, "ref": PROD_REF},
    )
    say(f"item 2: {n:,} hosts")
    started = time.monotonic()
    step = 250_000
    total = 0
    for start in range(lo["checkins"], hi["checkins"], step):
        end = min(start + step, hi["checkins"])
        total += _sql(
            cursor,
            """
            INSERT INTO fleet_checkin (host_id, received_at, remote_addr, booted_checksum, booted_version, report)
            SELECT 1 + c %% %(hosts)s, now() - (c / %(hosts)s) * interval '1 hour',
                ('10.20.' || (c %% 250) || '.7')::inet,
                encode(sha256(('commit-' || 3)::bytea), 'hex'), '41.20261125.0',
                jsonb_build_object(
                    'hostname', 'desk-' || lpad((1 + c %% %(hosts)s)::text, 5, '0') || '.corp.example.com',
                    'machine_id', md5('machine-' || (1 + c %% %(hosts)s)), 'greenboot', 'green',
                    'status', jsonb_build_object(
                    'deployments', jsonb_build_array(jsonb_build_object(
                        'id', 'fedora-' || md5('d' || c) || '.0', 'osname', 'fedora', 'serial', 0,
                        'checksum', encode(sha256(('commit-' || 3)::bytea), 'hex'), 'version', '41.20261125.0',
                        'timestamp', 1764028800, 'origin', 'prod:fedora/x86_64/kinoite/stable', 'booted', true,
                        'staged', false, 'pinned', false, 'packages', jsonb_build_array('htop'))),
                    'transaction', null))
            FROM generate_series(%(start)s + 1, %(end)s) AS c
        """,
            {"start": start, "end": end, "hosts": hi["hosts"]},
        )
        say(f"item 2: {total:,} / {hi['checkins'] - lo['checkins']:,} check-ins ({time.monotonic() - started:.0f} s)")


def _finish_seed(cursor: Any, hi: dict[str, int]) -> dict[str, str]:
    """Point the refs at their heads, spread the hosts over the rollout categories, fix sequences, analyze."""
    dev_head, prod_head = hi["commits"], 5 * hi["promotions"] - 2
    _sql(cursor, "UPDATE releases_ref SET head_id = %s WHERE id = 1", [dev_head])
    _sql(cursor, "UPDATE releases_ref SET head_id = %s WHERE id = 2", [prod_head])
    # 70 % on the prod head, 20 % on one of the five previous prod commits, 5 % staged, 3 % silent, 2 % elsewhere.
    _sql(
        cursor,
        """
        UPDATE fleet_host AS h SET
            booted_checksum = c.checksum, booted_version = c.version,
            booted_origin = CASE WHEN h.id %% 100 >= 98 THEN 'prod:fedora/x86_64/kinoite/testing'
                                 ELSE 'prod:' || %(ref)s END,
            booted_ref = CASE WHEN h.id %% 100 >= 98 THEN 'fedora/x86_64/kinoite/testing' ELSE %(ref)s END,
            staged_checksum = CASE WHEN h.id %% 100 BETWEEN 90 AND 94 THEN %(head)s ELSE '' END,
            last_checkin_at = CASE WHEN h.id %% 100 BETWEEN 95 AND 97 THEN now() - interval '10 days'
                                   ELSE now() - (h.id %% 240) * interval '1 minute' END,
            deployments = jsonb_build_array(jsonb_build_object('checksum', c.checksum, 'version', c.version,
                                                               'booted', true))
        FROM releases_commit AS c
        WHERE c.id = CASE WHEN h.id %% 100 < 70 THEN %(prod_head)s
                          ELSE greatest(3, %(prod_head)s - 5 * (1 + h.id %% 5)) END
    """,
        {"ref": PROD_REF, "prod_head": prod_head, "head": statusdoc.fake_checksum("unused")},
    )
    _sql(
        cursor,
        "UPDATE fleet_host SET staged_checksum = (SELECT checksum FROM releases_commit WHERE id = %s) "
        "WHERE staged_checksum <> ''",
        [prod_head],
    )
    for table in (
        "releases_stage",
        "releases_treefile",
        "releases_ref",
        "releases_commit",
        "releases_refupdate",
        "releases_promotion",
        "releases_approval",
        "fleet_department",
        "fleet_host",
        "fleet_checkin",
    ):
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608
    say("item 2: ANALYZE")
    cursor.execute("ANALYZE")
    cursor.execute("SELECT checksum FROM releases_commit WHERE id = %s", [dev_head])
    return {"commit": cursor.fetchone()[0]}


RING_DEPARTMENTS = {"pilot": range(1, 3), "early": range(3, 11)}  # the rest of the 50 are in broad, the last ring
ADOPTION_DAYS = 90  # PORTAL_ADOPTION_DAYS: the table as big as its retention lets it grow; pages read one week


def _seed_rings(cursor: Any, hi: dict[str, int]) -> None:
    """Rings on prod, a rollout of the prod head that reached pilot 30 h and early 3 h ago, and 90 days of hourly
    adoption samples per department (they grow with departments and hours, not with hosts)."""
    from datetime import timedelta

    from django.utils import timezone

    from kinoite_portal.releases.models import Commit, Promotion, Ref, Stage
    from kinoite_portal.rollouts.models import Ring, Rollout, RolloutEvent, RolloutRing, ring_ref

    prod = Stage.objects.get(name="prod")
    head = Commit.objects.get(pk=5 * hi["promotions"] - 2)
    previous = Commit.objects.get(pk=max(1, 5 * (hi["promotions"] - 1) - 2))
    now = timezone.now()
    moved = {"pilot": now - timedelta(hours=30), "early": now - timedelta(hours=3)}
    rollout = Rollout.objects.create(
        promotion=Promotion.objects.get(pk=hi["promotions"]),
        stage=prod,
        stage_ref=PROD_REF,
        commit=head,
        previous_commit=previous,
    )
    for order, name in enumerate(("pilot", "early", "broad"), start=1):
        ring = Ring.objects.create(stage=prod, name=name, order=order)
        ring.departments.set(RING_DEPARTMENTS.get(name, []))
        Ref.objects.create(stage=prod, name=ring_ref(PROD_REF, name), head=head if name in moved else previous)
        rollout_ring = RolloutRing.objects.create(
            rollout=rollout,
            ring=ring,
            name=name,
            order=order,
            ref=ring_ref(PROD_REF, name),
            is_last=name == "broad",
            soak_time=ring.soak_time,
            success_threshold=ring.success_threshold,
            failure_threshold=ring.failure_threshold,
            update_timeout=ring.update_timeout,
            auto_advance=ring.auto_advance,
            state=RolloutRing.State.MOVED if name in moved else RolloutRing.State.WAITING,
            move_requested_at=moved.get(name),
            moved_at=moved.get(name),
        )
        if name in moved:
            RolloutEvent.objects.create(rollout=rollout, ring=rollout_ring, kind="moved", message=f"{name} moved")
    n = _sql(
        cursor,
        """
        INSERT INTO fleet_adoptionsample (taken_at, department_id, ref, checksum, hosts)
        SELECT date_trunc('hour', now()) - h * interval '1 hour', d, %(ref)s, c.checksum, 200 / (1 + (c.id %% 2))
        FROM generate_series(0, %(hours)s) AS h, generate_series(1, %(depts)s) AS d,
            releases_commit AS c WHERE c.id IN (%(head)s, %(previous)s)
    """,
        {"ref": PROD_REF, "hours": ADOPTION_DAYS * 24, "depts": DEPARTMENTS, "head": head.pk, "previous": previous.pk},
    )
    say(f"item 2: rings, a rollout and {n:,} adoption samples")
    cursor.execute("ANALYZE")


def _drop_rings(cursor: Any) -> None:
    """Remove the rings again, so the next size measures the pages without rings first."""
    for statement in (
        "DELETE FROM rollouts_rolloutevent",
        "DELETE FROM rollouts_rolloutring",
        "DELETE FROM rollouts_rollout",
        "DELETE FROM rollouts_ring_departments",
        "DELETE FROM rollouts_ring_hosts",
        "DELETE FROM rollouts_ring",
        "DELETE FROM fleet_adoptionsample",
        f"DELETE FROM releases_ref WHERE name LIKE '{PROD_REF}-%%'",  # noqa: S608 (a constant)
    ):
        _sql(cursor, statement)


def _measure(client: Any, url: str, *, requests: int, cap: float) -> tuple[list[float], int]:

    for _ in range(2):
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
    queries = queries_of_get(client, url)
    times: list[float] = []
    deadline = time.monotonic() + cap
    while len(times) < requests and (len(times) < 5 or time.monotonic() < deadline):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
    return times, queries


def run(*, quick: bool) -> ItemResult:
    result = ItemResult(2, "Pages at scale")
    full = QUICK if quick else FULL
    tenth = {key: value // 10 for key, value in full.items()}
    zero = dict.fromkeys(full, 0)
    measured: dict[str, dict[str, Any]] = {}
    with scratch_dir("pages") as tmp, postgres_database() as db_url:
        env = portal_environment(database_url=db_url, var_dir=tmp / "var", extra={"ALLOWED_HOSTS": "testserver"})
        django_setup(env)
        from django.contrib.auth.models import Group, User
        from django.db import connection
        from django.test import Client
        from django.urls import reverse

        from kinoite_portal.core import roles
        from kinoite_portal.fleet.models import Department

        user = User.objects.create_user("bench-rita", password="x")
        user.groups.add(Group.objects.get(name=roles.RELEASE_ENGINEERS))
        client = Client()
        client.force_login(user)
        approver = User.objects.create_user("bench-alice", password="x")
        approver.groups.add(Group.objects.get(name=roles.APPROVERS))
        approver_client = Client()
        approver_client.force_login(approver)
        head = User.objects.create_user("bench-dora", password="x")
        head.groups.add(Group.objects.get(name=roles.DEPARTMENT_HEADS))
        head_client = Client()
        head_client.force_login(head)
        with connection.cursor() as cursor:
            _seed_fixed(cursor, user.pk)
        Department.objects.get(slug="dept-02").heads.add(head)

        def measure(name: str, label: str, who: Any, url: str) -> None:
            times, queries = _measure(who, url, requests=full["requests"], cap=full["cap"])
            measured.setdefault(name, {})[label] = (times, queries)
            say(
                f"item 2: {label} {name}: median {median(times):.0f} ms, p95 {percentile(times, 95):.0f} ms, "
                f"{queries} queries ({len(times)} requests)"
            )

        for label, lo, hi in (("1/10", zero, tenth), ("full", tenth, full)):
            say(
                f"item 2: seeding to {label}: {hi['commits']:,} commits, {hi['promotions']:,} promotions, "
                f"{hi['hosts']:,} hosts, {hi['checkins']:,} check-ins"
            )
            with connection.cursor() as cursor:
                _seed_range(cursor, lo, hi, user.pk, full)
                targets = _finish_seed(cursor, hi)
            pages = {
                "dashboard": reverse("dashboard"),
                "commit page": reverse("releases:commit_detail", args=[targets["commit"]]),
                "rollout, one department": reverse("fleet:department", args=["dept-01"]),
                "rollout, all departments": reverse("fleet:rollout"),
                "host list": reverse("fleet:host_list"),
            }
            ring_pages = {
                "rollout with rings, approver": approver_client,
                "rollout with rings, department head": head_client,
            }
            for name, url in pages.items():
                measure(name, label, client, url)
            with connection.cursor() as cursor:
                _seed_rings(cursor, hi)
            for name, who in ring_pages.items():
                measure(name, label, who, reverse("fleet:rollout"))
            with connection.cursor() as cursor:
                _drop_rings(cursor)
    for name, by_size in measured.items():
        small_times, small_queries = by_size["1/10"]
        times, queries = by_size["full"]
        p95 = percentile(times, 95)
        result.rows.append(
            Row(2, f"{name}: median server time (full; baseline 1/10)", median(times), median(small_times), "ms")
        )
        result.rows.append(
            Row(
                2,
                f"{name}: p95 server time (full; baseline 1/10)",
                p95,
                percentile(small_times, 95),
                "ms",
                f"< {TARGET_MS:.0f} ms",
                p95 < TARGET_MS,
            )
        )
        result.rows.append(
            Row(
                2,
                f"{name}: SQL queries (full; baseline 1/10)",
                queries,
                small_queries,
                "",
                "same as 1/10",
                queries == small_queries,
            )
        )
        result.notes.append(f"{name}: {len(times)} requests at full size, {len(small_times)} at 1/10")
    result.notes.append(
        f"full size: {full['commits']:,} commits ({PACKAGES_PER_COMMIT} packages each; a real Kinoite lists ~2,000), "
        f"{full['promotions']:,} promotions, {full['hosts']:,} hosts in {DEPARTMENTS} departments, "
        f"{full['checkins']:,} check-ins (~100 per host: above PORTAL_CHECKIN_HISTORY, as if the trim had not run). "
        "The stages' repos do not exist, so the commit page shows no ostree file diff (it would run `ostree diff`). "
        "The rollout with rings: pilot (2 departments), early (8) and broad (40) on prod, a rollout of the prod head "
        f"that reached pilot and early, {ADOPTION_DAYS} days of hourly adoption samples per department; the approver "
        "sees every ring with its chart, the department head one department."
    )
    return result

"""Smoke run of every benchmark item (`python -m bench --quick`): functional only, never an assertion on speed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import PROJECT_DIR

NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?( \S+)?$")
EXPECTED = {
    1: ["promotion, ", "approval -> worker start"],
    2: [
        f"{page}: {figure}"
        for page in (
            "dashboard",
            "commit page",
            "rollout, one department",
            "rollout, all departments",
            "host list",
            "rollout with rings, approver",
            "rollout with rings, department head",
        )
        for figure in ("median server time", "p95 server time", "SQL queries")
    ],
    3: ["check-ins per second", "check-in p95 latency", "failed check-ins"],
    4: ["bytes served for a "],
    5: [
        "promotion (",
        "approval -> ref visible to clients",
        "approval -> static delta available",
        "static delta after the ref",
        "rollback commit of a ",
        "commit import",
        "changes counted at import",
        "approval page p95",
        "worker peak RSS",
    ],
    6: [
        "gate evaluation: median",
        "gate evaluation: p95",
        "gate evaluation: SQL queries",
        "last qualifying check-in -> next ring's ref moved, check-in queues an evaluation",
        "last qualifying check-in -> next ring's ref moved, beat alone",
    ],
    7: ["dashboard p95 with 30 concurrent /healthz callers", "dashboard median", "/healthz median answer"],
    8: ["OCI promotion by digest, "],
}


def table_rows(markdown: str) -> list[list[str]]:
    rows = [line.strip("|").split(" | ") for line in markdown.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[1:] if not row[0].startswith("---")]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], str]:
    folder = tmp_path_factory.mktemp("bench")
    output = folder / "latest.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "BENCH_TMPDIR": str(folder)},
    )
    return proc, output.read_text() if output.exists() else ""


@pytest.mark.slow
def test_it_reports_every_item_with_numbers(quick_run: tuple[subprocess.CompletedProcess[str], str]) -> None:
    proc, markdown = quick_run
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    rows = table_rows(markdown)
    for item, figures in EXPECTED.items():
        mine = [row for row in rows if row[0] == str(item)]
        for figure in figures:
            matching = [row for row in mine if row[1].startswith(figure)]
            assert matching, f"item {item} has no row '{figure}':\n{markdown}"
            for row in matching:
                assert NUMBER.match(row[2]), f"measured is not a number in {row}"
                assert row[6] in {"yes", "NO", "-"}
    assert "FAILED" not in markdown


@pytest.mark.slow
def test_it_prints_the_same_table_it_writes(quick_run: tuple[subprocess.CompletedProcess[str], str]) -> None:
    proc, markdown = quick_run
    assert "item  figure" in proc.stdout
    for row in table_rows(markdown):
        assert row[1] in proc.stdout
    assert "Run " in markdown
    assert " cores" in markdown


@pytest.mark.slow
def test_it_leaves_no_scratch_folder_or_database_behind(
    quick_run: tuple[subprocess.CompletedProcess[str], str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    import psycopg

    from bench.common import PG_ADMIN_URL

    proc, _ = quick_run
    folder = Path(proc.args[proc.args.index("--output") + 1]).parent
    assert sorted(p.name for p in folder.iterdir()) == ["latest.md"]
    with psycopg.connect(PG_ADMIN_URL) as conn:
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'kinoite_bench_%'")]
    created = re.findall(r"created database (kinoite_bench_[0-9a-f]+)", proc.stderr)
    assert len(created) == len(EXPECTED)
    assert not set(created) & set(names)


def test_it_refuses_an_unknown_item() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "9"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
    )

    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr

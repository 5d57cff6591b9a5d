"""Run the benchmarks: ``python -m bench [--quick] [--only N ...]``.

Each item runs in a child process of its own (its own database, Redis, worker and servers, all removed afterwards),
so one item's Django settings never leak into another's. The table goes to stdout and to var/bench/latest.md.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.report import ItemResult, Row, render_markdown, render_text, write_latest

ITEMS = {
    1: ("bench.promotion", "Promotion overhead"),
    2: ("bench.pages", "Pages at scale"),
    3: ("bench.checkin", "Check-in throughput"),
    4: ("bench.bandwidth", "Client bandwidth"),
    5: ("bench.kinoite", "Kinoite-sized image"),
    6: ("bench.rings", "Rollout rings"),
    7: ("bench.healthz", "Health probes under load"),
    8: ("bench.oci", "OCI promotion by digest"),
}


def run_child(item: int, *, quick: bool, out: Path) -> None:
    """Run one item in this process and write its result as JSON to ``out``."""
    module_name, title = ITEMS[item]
    started = time.monotonic()
    try:
        result: ItemResult = importlib.import_module(module_name).run(quick=quick)
    except Exception as exc:
        traceback.print_exc()
        result = ItemResult(item, title, error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    result.seconds = time.monotonic() - started
    out.write_text(result.to_json())


def run_item(item: int, *, quick: bool) -> ItemResult:
    """Run one item in a child process and return its result."""
    _, title = ITEMS[item]
    with tempfile.TemporaryDirectory(prefix="kinoite-bench-result-") as folder:
        out = Path(folder) / "result.json"
        cmd = [sys.executable, "-m", "bench", "--child", str(item), "--result", str(out)] + (
            ["--quick"] if quick else []
        )
        started = time.monotonic()
        proc = subprocess.run(cmd, check=False)
        if out.exists():
            return ItemResult.from_json(out.read_text())
        return ItemResult(
            item,
            title,
            error=f"the item's process exited with {proc.returncode} and wrote no result",
            seconds=time.monotonic() - started,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny smoke run of every item (seconds; numbers mean nothing)"
    )
    parser.add_argument(
        "--only",
        type=int,
        action="append",
        choices=sorted(ITEMS),
        metavar="N",
        help="run only item N (repeatable): 1 promotion, 2 pages, 3 check-ins, 4 bandwidth, 5 Kinoite-sized image, "
        "6 rollout rings, 7 health probes, 8 OCI promotion",
    )
    parser.add_argument("--child", type=int, choices=sorted(ITEMS), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--output", type=Path, default=None, help="where to write the Markdown table (default var/bench/latest.md)"
    )
    args = parser.parse_args(argv)
    if args.child is not None:
        run_child(args.child, quick=args.quick, out=args.result)
        return 0
    started_at = datetime.now(UTC)
    started = time.monotonic()
    results = []
    for item in args.only or sorted(ITEMS):
        print(f"== item {item}: {ITEMS[item][1]}{' (quick)' if args.quick else ''}", file=sys.stderr, flush=True)
        results.append(run_item(item, quick=args.quick))
    seconds = time.monotonic() - started
    print(render_text(results))
    markdown = render_markdown(results, quick=args.quick, started=started_at, seconds=seconds)
    path = write_latest(markdown, args.output) if args.output else write_latest(markdown)
    print(f"\nTotal {seconds:.0f} s. Markdown table written to {path}")
    failed = [r for r in results if r.error or not r.rows or any(row.measured is None for row in r.rows)]
    return 1 if failed else 0


__all__ = ["Row", "main"]

if __name__ == "__main__":
    sys.exit(main())

"""The one table every benchmark item reports into: printed, and written as Markdown to var/bench/latest.md."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
LATEST = PROJECT_DIR / "var" / "bench" / "latest.md"
COLUMNS = ["item", "figure", "measured", "baseline", "ratio", "target", "met?"]


@dataclass
class Row:
    """One figure: what was measured, the baseline measured in the same run, and the target."""

    item: int
    figure: str
    measured: float | None
    baseline: float | None = None
    unit: str = ""
    target: str = ""
    met: bool | None = None
    ratio: float | None = None

    def __post_init__(self) -> None:
        if self.ratio is None and self.measured is not None and self.baseline:
            self.ratio = self.measured / self.baseline

    def cells(self) -> list[str]:
        return [
            str(self.item),
            self.figure,
            _number(self.measured, self.unit),
            _number(self.baseline, self.unit),
            "" if self.ratio is None else f"{self.ratio:.2f}x",
            self.target,
            {True: "yes", False: "NO", None: "-"}[self.met],
        ]


@dataclass
class ItemResult:
    """What one item's run returns: its rows and the notes that explain them."""

    item: int
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ItemResult:
        data = json.loads(text)
        rows = [Row(**row) for row in data.pop("rows")]
        return cls(rows=rows, **data)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if abs(value) >= 100 or float(value).is_integer():
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def machine_description() -> str:
    """Return a one-line description of the machine the run happened on (CPU, cores, memory, kernel, ostree)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    ostree = ""
    if shutil.which("ostree"):
        out = subprocess.run(["ostree", "--version"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if "Version:" in line:
                ostree = f", ostree {line.split(':', 1)[1].strip().strip(chr(39))}"
                break
    return f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}{ostree}"


def render_text(results: list[ItemResult]) -> str:
    """Return the table as fixed-width text, then each item's notes."""
    rows = [COLUMNS] + [row.cells() for result in results for row in result.rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = []
    for index, cells in enumerate(rows):
        lines.append(
            "  ".join(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(cells))
        )
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    for result in results:
        if result.error:
            lines.append(f"item {result.item} ({result.title}) FAILED: {result.error}")
        for note in result.notes:
            lines.append(f"[{result.item}] {note}")
    return "\n".join(lines)


def render_markdown(results: list[ItemResult], *, quick: bool, started: datetime, seconds: float) -> str:
    """Return the table as Markdown, with the date, the machine and each item's notes."""
    out = [
        f"# Benchmarks{' (--quick smoke run: tiny data, numbers mean nothing)' if quick else ''}",
        "",
        f"Run {started.astimezone(UTC):%Y-%m-%d %H:%M} UTC in {seconds:.0f} s on: {machine_description()}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "| " + " | ".join(["---:" if c in {"measured", "baseline", "ratio"} else "---" for c in COLUMNS]) + " |",
    ]
    for result in results:
        out.extend("| " + " | ".join(c.replace("|", "\\|") for c in row.cells()) + " |" for row in result.rows)
    out.append("")
    for result in results:
        out.append(f"**{result.item}. {result.title}** ({result.seconds:.0f} s)")
        if result.error:
            out.append(f"- FAILED: {result.error}")
        out.extend(f"- {note}" for note in result.notes)
        out.append("")
    return "\n".join(out)


def write_latest(markdown: str, path: Path = LATEST) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown)
    return path

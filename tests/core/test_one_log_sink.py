"""Jobs log through one sink: ``releases.services.joblog.JobLog``. The plain-Python layers (ostree, oci), which
import no Django, keep their own small sinks for the runner; every Django app uses JobLog."""

from __future__ import annotations

import ast
from pathlib import Path

import kinoite_portal

PACKAGE = Path(kinoite_portal.__file__).parent
PLAIN_PYTHON = ("ostree", "oci")


def test_no_django_app_defines_a_log_sink_besides_joblog() -> None:
    sinks = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in PLAIN_PYTHON:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(item, ast.FunctionDef) and item.name == "write" for item in node.body
            ):
                sinks.append(f"{relative}:{node.lineno} {node.name}")

    assert [sink.split(" ")[-1] for sink in sinks] == ["JobLog"], sinks

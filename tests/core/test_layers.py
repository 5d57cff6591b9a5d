"""Dependencies between the apps run one way: ostree <- oci <- core <- releases <- fleet <- rollouts; no module cycles.

A lower layer never imports a higher one (not even inside a function); where it needs what a higher layer knows, a
setting names a function of the higher layer (``PORTAL_*_PROVIDER``, read with ``import_string``). The wiring
modules at the top of the package (settings, urls, celery, schedules, wsgi) may name every layer. ``ostree`` is
plain Python: it imports neither Django nor any other part of the portal. ``oci`` (skopeo, buildah) sits beside it,
plain Python too, and takes only the runner and the errors from ``ostree``. Inside an app, no two modules import each
other (directly or round a loop): tasks import services, services send tasks by name (``services.queueing``).
Imports under ``if TYPE_CHECKING:`` are for the type checker only and do not count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import kinoite_portal

LAYERS = ["ostree", "oci", "core", "releases", "fleet", "rollouts"]
# What the oci layer may take from ostree: running commands and the error types, nothing about ostree repos.
OCI_MAY_USE_FROM_OSTREE = ("runner", "errors")
PACKAGE = Path(kinoite_portal.__file__).parent


def _walk_runtime(tree: ast.AST) -> Iterator[ast.AST]:
    """Like ast.walk, without the bodies of ``if TYPE_CHECKING:``."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def _imported_modules(path: Path, module: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (line, absolute module names) for every import statement in the file, relative ones resolved."""
    package_parts = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    nodes = _walk_runtime(ast.parse(path.read_text(), filename=str(path)))
    for node in sorted((n for n in nodes if isinstance(n, ast.Import | ast.ImportFrom)), key=lambda n: n.lineno):
        if isinstance(node, ast.Import):
            yield node.lineno, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package_parts[: len(package_parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # `from kinoite_portal import fleet` names a layer in its names.
            yield node.lineno, [target, *(f"{target}.{alias.name}" for alias in node.names)]


def _against_the_layers(source_layer: str, target: str, package_name: str) -> str:
    parts = target.split(".")
    if source_layer == "ostree":
        if parts[0] == "django" or (parts[0] == package_name and len(parts) > 1 and parts[1] != "ostree"):
            return "ostree is plain Python"
        return ""
    if source_layer == "oci":
        if parts[0] == "django":
            return "oci is plain Python"
        if parts[0] == package_name and len(parts) > 1 and parts[1] != "oci":
            allowed = parts[1] == "ostree" and (len(parts) == 2 or parts[2] in OCI_MAY_USE_FROM_OSTREE)
            return "" if allowed and len(parts) > 2 else "oci takes only the runner and the errors from ostree"
        return ""
    above = parts[0] == package_name and len(parts) > 1 and parts[1] in LAYERS
    if above and LAYERS.index(parts[1]) > LAYERS.index(source_layer):
        return f"{source_layer} is below {parts[1]}"
    return ""


def layer_violations(package: Path, package_name: str = "kinoite_portal") -> list[str]:
    """Return one line per import against the direction of the layers, in every module under ``package``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        source_layer = relative.parts[0] if len(relative.parts) > 1 else None
        if source_layer not in LAYERS:
            continue  # the wiring modules
        module = ".".join((package_name, *relative.with_suffix("").parts))
        for line, targets in _imported_modules(path, module):
            for target in targets:
                why = _against_the_layers(source_layer, target, package_name)
                if why:
                    found.append(f"{relative}:{line} imports {target}: {why}")
                    break
    return found


def _module_names(package: Path, package_name: str) -> dict[str, Path]:
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package).with_suffix("").parts
        names[".".join((package_name, *(parts[:-1] if parts[-1] == "__init__" else parts)))] = path
    return names


def module_cycles(package: Path, package_name: str = "kinoite_portal") -> list[list[str]]:
    """Return the groups of modules that import each other round a loop (Tarjan's strongly connected components)."""
    modules = _module_names(package, package_name)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        own = f"{name}.__init__" if path.name == "__init__.py" else name
        graph[name] = {
            target
            for _, targets in _imported_modules(path, own)
            for target in targets
            if target in modules and target != name and not name.startswith(f"{target}.")  # a package's own __init__
        }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for target in sorted(graph[name]):
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == name:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return cycles


def test_it_finds_no_import_against_the_direction_of_the_layers() -> None:
    assert layer_violations(PACKAGE) == []


def test_it_reports_an_upward_import_even_inside_a_function(tmp_path: Path) -> None:
    package = tmp_path / "portal"
    (package / "core").mkdir(parents=True)
    (package / "releases").mkdir()
    (package / "core" / "ok.py").write_text("from portal.core import audit\nfrom portal.ostree import Repo\n")
    (package / "core" / "bad.py").write_text("def f():\n    from portal.fleet.models import Department\n")
    (package / "releases" / "bad.py").write_text("from portal import rollouts\nfrom ..fleet import selectors\n")
    assert layer_violations(package, "portal") == [
        "core/bad.py:2 imports portal.fleet.models: core is below fleet",
        "releases/bad.py:1 imports portal.rollouts: releases is below rollouts",
        "releases/bad.py:2 imports portal.fleet: releases is below fleet",
    ]


def test_it_keeps_ostree_free_of_django_and_the_rest_of_the_portal(tmp_path: Path) -> None:
    package = tmp_path / "portal"
    (package / "ostree").mkdir(parents=True)
    (package / "ostree" / "repo.py").write_text("from .runner import run\nfrom django.conf import settings\n")
    assert layer_violations(package, "portal") == ["ostree/repo.py:2 imports django.conf: ostree is plain Python"]


def test_it_keeps_oci_plain_python_on_the_runner_and_errors_of_ostree(tmp_path: Path) -> None:
    package = tmp_path / "portal"
    (package / "oci").mkdir(parents=True)
    (package / "oci" / "ok.py").write_text(
        "from portal.ostree.runner import run\nfrom portal.ostree.errors import OstreeError\nfrom . import registry\n"
    )
    (package / "oci" / "bad.py").write_text(
        "from portal.ostree.repo import Repo\nfrom django.conf import settings\nfrom portal.releases import models\n"
    )
    assert layer_violations(package, "portal") == [
        "oci/bad.py:1 imports portal.ostree.repo: oci takes only the runner and the errors from ostree",
        "oci/bad.py:2 imports django.conf: oci is plain Python",
        "oci/bad.py:3 imports portal.releases: oci takes only the runner and the errors from ostree",
    ]


def test_it_finds_no_module_cycle() -> None:
    assert module_cycles(PACKAGE) == []


def test_it_reports_a_cycle_made_by_an_import_inside_a_function(tmp_path: Path) -> None:
    services = tmp_path / "portal" / "releases" / "services"
    services.mkdir(parents=True)
    (tmp_path / "portal" / "releases" / "tasks.py").write_text("from portal.releases.services import runs\n")
    (services / "runs.py").write_text("def queue():\n    from portal.releases.tasks import run_task\n")
    (services / "types.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .runs import queue\n"
    )
    (services / "other.py").write_text("from . import types\n")
    assert module_cycles(tmp_path / "portal", "portal") == [["portal.releases.services.runs", "portal.releases.tasks"]]

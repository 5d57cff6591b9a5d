"""`make run` installs `pip install -e .` only: everything the web, worker and beat processes import must come from
the project's own dependencies, not from the test extra that happens to be in this virtualenv."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import subprocess
import sys
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.services import PROJECT_DIR

# Installed in a fresh interpreter before anything else: an import of a module whose distribution `pip install -e .`
# would not install fails as it would on a machine that never ran `make test`.
GUARD = """
import importlib.abc, importlib.metadata, json, sys
allowed = set(json.loads(sys.argv[1]))
owners = importlib.metadata.packages_distributions()
def canonical(name):
    return name.lower().replace("_", "-").replace(".", "-")
class RunDependenciesOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        dists = owners.get(name.split(".")[0])
        if dists and not any(canonical(d) in allowed for d in dists):
            raise ModuleNotFoundError(f"{name} comes from {dists}, which pip install -e . does not install")
        return None
sys.meta_path.insert(0, RunDependenciesOnly())
import django
django.setup()
import kinoite_portal.celery, kinoite_portal.wsgi, kinoite_portal.urls
import kombu.transport.redis, celery.bin.worker, celery.bin.beat, gunicorn.app.wsgiapp
from kinoite_portal.celery import app
app.connection_for_write().transport  # the broker transport the worker loads first
print("ok")
"""


def run_closure() -> set[str]:
    """Return the distributions `pip install -e .` installs: the project's dependencies and theirs, with extras."""
    with (PROJECT_DIR / "pyproject.toml").open("rb") as handle:
        todo = [Requirement(line) for line in tomllib.load(handle)["project"]["dependencies"]]
    closure = {"kinoite-portal"}
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in closure:
            continue
        closure.add(name)
        for line in metadata.requires(name) or []:
            sub = Requirement(line)
            extras = ["", *sorted(requirement.extras)]
            if sub.marker is None or any(sub.marker.evaluate({"extra": extra}) for extra in extras):
                todo.append(sub)
    return closure


def test_the_running_portal_imports_nothing_from_the_test_extra() -> None:
    closure = run_closure()
    assert "pytest" not in closure  # the guard below would let nothing through if the closure were everything

    result = subprocess.run(
        [sys.executable, "-c", GUARD, json.dumps(sorted(closure))],
        cwd=PROJECT_DIR,
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "kinoite_portal.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "ok"

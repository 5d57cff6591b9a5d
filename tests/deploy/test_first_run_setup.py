"""The first `make run` / `make test` on a fresh machine: system packages before pip, exact command for non-root."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.services import PROJECT_DIR

SCRIPT = PROJECT_DIR / "deploy" / "dev" / "install-system-packages.sh"


def fresh_checkout(tmp_path: Path) -> Path:
    """Copy what make reads into a folder that has never seen a virtualenv."""
    checkout = tmp_path / "checkout"
    (checkout / "deploy" / "dev").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "Makefile", checkout)
    shutil.copy(PROJECT_DIR / "pyproject.toml", checkout)
    shutil.copy(SCRIPT, checkout / "deploy" / "dev")
    return checkout


def make_environment() -> dict[str, str]:
    """Return this environment without what an outer `make test` passes down (it adds "make[1]: ..." lines)."""
    return {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"}}


def planned_commands(checkout: Path, target: str) -> list[str]:
    result = subprocess.run(
        ["make", "-n", target],
        cwd=checkout,
        env=make_environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.splitlines()


def first_index(lines: list[str], needle: str) -> int:
    return next(i for i, line in enumerate(lines) if needle in line)


@pytest.mark.parametrize(("target", "profile"), [("run", "run"), ("test", "test"), ("bench", "bench")])
def test_it_installs_system_packages_before_the_virtualenv_and_any_pip_install(
    tmp_path: Path, target: str, profile: str
) -> None:
    lines = planned_commands(fresh_checkout(tmp_path), target)

    system_step = first_index(lines, f"install-system-packages.sh {profile}")
    assert system_step < first_index(lines, "-m venv")
    assert system_step < first_index(lines, "pip install")


def test_it_installs_only_what_running_needs_for_make_run(tmp_path: Path) -> None:
    lines = planned_commands(fresh_checkout(tmp_path), "run")

    pip_installs = [line for line in lines if "pip install" in line and "--upgrade pip" not in line]
    assert pip_installs == [".venv/bin/python -m pip install --quiet -e ."]
    assert not any("install-system-packages.sh test" in line for line in lines)
    assert lines[-1] == ".venv/bin/python manage.py run_portal"


def test_it_keeps_separate_stamps_so_make_test_after_make_run_installs_the_test_extra(tmp_path: Path) -> None:
    checkout = fresh_checkout(tmp_path)
    run_stamps = [line for line in planned_commands(checkout, "run") if "touch .venv/.installed-" in line]
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "python").symlink_to(shutil.which("python3") or "/usr/bin/python3")
    (checkout / run_stamps[0].split("touch ")[1]).touch()

    assert planned_commands(checkout, "run")[-1] == ".venv/bin/python manage.py run_portal"
    assert not any("pip install" in line for line in planned_commands(checkout, "run"))
    assert ".venv/bin/python -m pip install --quiet -e '.[test]'" in planned_commands(checkout, "test")


def test_it_stops_a_user_who_is_not_root_at_once_with_the_exact_command() -> None:
    if shutil.which("apt-get") is None:
        pytest.skip("the expected command is apt-get's; this machine has no apt-get")
    argv = [str(SCRIPT), "run"]
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]
    # pytest's tmp_path is private to root; the unprivileged user must be able to run the interpreter stand-in.
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)  # noqa: S103
        # An interpreter without venv and headers, as on a fresh Debian before python3-venv and python3-dev.
        bare_python = Path(folder) / "bare-python"
        bare_python.write_text("#!/bin/sh\nexit 1\n")
        bare_python.chmod(0o755)
        result = subprocess.run(
            argv,
            env={"PATH": os.environ["PATH"], "PYTHON": str(bare_python)},
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert result.returncode == 1
    assert "Missing system packages: python3-venv python3-dev" in result.stderr
    assert (
        "Run as root:  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv python3-dev"
        in result.stderr
    )
    assert "Installing" not in result.stdout


def test_it_names_a_package_once_when_two_missing_commands_come_from_it() -> None:
    if shutil.which("apt-get") is None:
        pytest.skip("the expected command is apt-get's; this machine has no apt-get")
    argv = [str(SCRIPT), "test"]
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)  # noqa: S103
        # Every command on PATH but rpm and rpmbuild, which Debian's one rpm package provides.
        commands = Path(folder) / "bin"
        commands.mkdir()
        for directory in os.environ["PATH"].split(os.pathsep):
            for program in Path(directory).glob("*") if Path(directory).is_dir() else []:
                link = commands / program.name
                if program.name not in ("rpm", "rpmbuild") and not link.exists() and not link.is_symlink():
                    link.symlink_to(program)
        # As in the test above, an interpreter without venv and headers: the list it gives is then known exactly.
        bare_python = Path(folder) / "bare-python"
        bare_python.write_text("#!/bin/sh\nexit 1\n")
        bare_python.chmod(0o755)
        result = subprocess.run(
            argv,
            env={"PATH": str(commands), "PYTHON": str(bare_python)},
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert result.returncode == 1
    assert "Missing system packages: rpm python3-venv python3-dev\n" in result.stderr
    assert "apt-get install -y rpm python3-venv python3-dev\n" in result.stderr


def test_it_refuses_an_unknown_profile_and_installs_nothing() -> None:
    result = subprocess.run([str(SCRIPT), "everything"], capture_output=True, text=True, timeout=30)

    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert result.stdout == ""


def test_it_finds_nothing_missing_for_any_profile_on_a_machine_that_has_everything() -> None:
    for profile in ("run", "test"):
        result = subprocess.run(
            [str(SCRIPT), profile], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=30
        )
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), profile


def test_it_passes_run_args_to_run_portal(tmp_path: Path) -> None:
    result = subprocess.run(
        ["make", "-n", "run", "RUN_ARGS=--bind 0.0.0.0:8080"],
        cwd=fresh_checkout(tmp_path),
        env=make_environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.splitlines()[-1] == ".venv/bin/python manage.py run_portal --bind 0.0.0.0:8080"

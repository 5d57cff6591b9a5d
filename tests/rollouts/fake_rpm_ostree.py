#!/usr/bin/python3
"""MOCK of rpm-ostree, for tests only: `rpm-ostree` is not installed on the test machine.

On a sysroot folder made with `ostree admin init-fs` it does what the rings need, with the REAL ostree:
- `status --json`: tests/fleet/fake_rpm_ostree.py (the first deployment is reported as booted);
- `rebase REMOTE:REF`: `ostree pull` of REF from REMOTE (over HTTP from the portal, so ref bindings and the summary
  are checked for real), then `ostree admin deploy REMOTE:REF`;
- `upgrade`: the same for the origin of the first deployment (what rpm-ostreed-automatic does).
A real rpm-ostree stages the new deployment and boots it at the next reboot; this mock deploys it first in the list,
and `status` then reports it booted: a rebase or upgrade here is followed by an immediate reboot.

Usage: fake_rpm_ostree.py SYSROOT status --json | rebase REMOTE:REF | upgrade
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

STATUS_MOCK = Path(__file__).resolve().parent.parent / "fleet" / "fake_rpm_ostree.py"


def ostree(*args: str) -> None:
    result = subprocess.run(["ostree", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        raise SystemExit(result.returncode)


def status(sysroot: str) -> dict:
    output = subprocess.run(
        [sys.executable, str(STATUS_MOCK), sysroot, "status", "--json"], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output)


def deploy(sysroot: str, refspec: str) -> None:
    remote, _, ref = refspec.partition(":")
    osname = status(sysroot)["deployments"][0]["osname"]
    ostree("pull", f"--repo={sysroot}/ostree/repo", remote, ref)
    ostree("admin", "deploy", f"--sysroot={sysroot}", f"--os={osname}", refspec)


def main() -> int:
    sysroot, *args = sys.argv[1:]
    if args == ["status", "--json"]:
        print(json.dumps(status(sysroot)))
    elif len(args) == 2 and args[0] == "rebase":
        deploy(sysroot, args[1])
    elif args == ["upgrade"]:
        deploy(sysroot, status(sysroot)["deployments"][0]["origin"])
    else:
        print(f"this mock implements 'status --json', 'rebase REMOTE:REF' and 'upgrade', not {args}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""MOCK of rpm-ostree, for tests only: `rpm-ostree` is not installed on the test machine.

It prints what `rpm-ostree status --json` would print for a sysroot folder, built from the REAL
`ostree admin status --sysroot=SYSROOT` output and `ostree show` of each deployment's commit. The first listed
deployment is reported as booted (a sysroot folder is never booted, so ostree shows no `*` marker).

Usage: fake_rpm_ostree.py SYSROOT status --json
"""

from __future__ import annotations

import json
import re
import subprocess
import sys


def main() -> int:
    sysroot, *args = sys.argv[1:]
    if args != ["status", "--json"]:
        print(f"this mock only implements 'status --json', not {args}", file=sys.stderr)
        return 1
    text = subprocess.run(
        ["ostree", "admin", "status", f"--sysroot={sysroot}"], capture_output=True, text=True, check=True
    ).stdout
    deployments = []
    for block in re.split(r"\n(?=\S|\s\s\S+ [0-9a-f]{64}\.\d)", text):
        match = re.search(r"(\S+) ([0-9a-f]{64})\.(\d+)", block)
        if not match:
            continue
        osname, checksum, serial = match.groups()
        version = re.search(r"Version: (\S+)", block)
        origin = re.search(r"origin refspec: (\S+)", block)
        timestamp = subprocess.run(
            ["ostree", "show", f"--repo={sysroot}/ostree/repo", "--print-metadata-key=version", checksum],
            capture_output=True,
            text=True,
            check=False,
        )
        deployments.append(
            {
                "id": f"{osname}-{checksum}.{serial}",
                "osname": osname,
                "serial": int(serial),
                "checksum": checksum,
                "version": version.group(1) if version else None,
                "timestamp": 1764028800,
                "origin": origin.group(1) if origin else None,
                "booted": not deployments,
                "staged": False,
                "pinned": False,
                "unlocked": "none",
                "requested-packages": [],
                "packages": [],
                "gpg-enabled": False,
                "mock-note": "built by tests/fleet/fake_rpm_ostree.py"
                if timestamp.returncode == 0
                else "commit unreadable",
            }
        )
    print(json.dumps({"deployments": deployments, "transaction": None, "cached-update": None, "update-driver": None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

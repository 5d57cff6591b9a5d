#!/usr/bin/python3
"""MOCK of bootc, for tests only: bootc cannot run on the test machine (it needs a system it deployed).

Prints the recorded ``bootc status --json`` document named by $FAKE_BOOTC_STATUS (documents in bootc's exact
shape: tests/fleet/data/README.md). With $FAKE_BOOTC_FAIL set it fails the way bootc does on a broken system.
The tests copy this file as ``bootc`` into a folder put first on the agent's PATH.

Usage: bootc status --json
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    args = sys.argv[1:]
    if args not in (["status", "--json"], ["status", "--format=json"]):
        print(f"this mock only implements 'status --json', not {args}", file=sys.stderr)
        return 2
    if os.environ.get("FAKE_BOOTC_FAIL"):
        print("error: Status: Loading sysroot: opendir(/sysroot): No such file or directory", file=sys.stderr)
        return 1
    with open(os.environ["FAKE_BOOTC_STATUS"], encoding="utf-8") as handle:
        sys.stdout.write(handle.read())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""MOCK of ``rpm-ostree compose tree`` for tests: rpm-ostree cannot run on Debian, so this stands in for it.

It is the only mock in the suite. It checks the command line the portal builds, records it, prints output the
way rpm-ostree does, and (mode ``ok``) makes a REAL commit with the real ``ostree`` binary so everything after the
compose (import, ref history, summary) runs for real. Modes, from FAKE_RPM_OSTREE_MODE:
  ok        commit and write the commit id (after FAKE_RPM_OSTREE_DELAY seconds)
  nochange  print rpm-ostree's "No apparent changes since previous commit" and exit 0
  depsolve  fail the way a depsolve failure does (exit 1, "error: Packages not found: ...")
  hang      write the pid to FAKE_RPM_OSTREE_PIDFILE and sleep (for kill, timeout and cancel tests)
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    argv = sys.argv[1:]
    record = os.environ.get("FAKE_RPM_OSTREE_ARGV_FILE")
    if record:
        with open(record, "a") as fh:
            fh.write(json.dumps(argv) + "\n")
    if argv[:2] != ["compose", "tree"]:
        print(f"error: fake rpm-ostree only knows 'compose tree', got {argv[:2]}", file=sys.stderr)
        return 2
    opts = dict(a[2:].split("=", 1) for a in argv[2:-1] if a.startswith("--") and "=" in a)
    treefile = json.loads(Path(argv[-1]).read_text())
    mode = os.environ.get("FAKE_RPM_OSTREE_MODE", "ok")
    print(f"Using treefile {argv[-1]} for ref {treefile['ref']}", flush=True)
    # Like rpm-ostree, read the yum repo definitions from .repo files beside the treefile.
    defined = {
        line.strip()[1:-1]
        for repo_file in Path(argv[-1]).parent.glob("*.repo")
        for line in repo_file.read_text().splitlines()
        if line.strip().startswith("[")
    }
    for repo in treefile.get("repos", []):
        if repo not in defined:
            print(f"error: Unknown repo '{repo}': no .repo file beside the treefile defines it", file=sys.stderr)
            return 1
    print(f"Repos defined beside the treefile: {', '.join(sorted(defined))}", flush=True)
    if "include" in treefile:
        included = Path(argv[-1]).parent / treefile["include"]
        if not included.is_file():
            print(f"error: Can't open include {treefile['include']}", file=sys.stderr)
            return 1
        print(f"Including {treefile['include']}: {included.read_text().strip()}", flush=True)
    print("Downloading metadata: fedora, fedora-updates", flush=True)
    if mode == "depsolve":
        print("error: Packages not found: no-such-package", file=sys.stderr, flush=True)
        return 1
    if mode == "nochange":
        print("No apparent changes since previous commit; use --force-nocache to override", flush=True)
        return 0
    if mode == "hang":
        Path(os.environ["FAKE_RPM_OSTREE_PIDFILE"]).write_text(str(os.getpid()))
        print("Installing 1623 packages", flush=True)
        time.sleep(120)
        return 0
    time.sleep(float(os.environ.get("FAKE_RPM_OSTREE_DELAY", "0")))
    print("Installing 3 packages", flush=True)
    with tempfile.TemporaryDirectory() as tree:
        root = Path(tree)
        (root / "usr/lib/modules/6.11.4-301.fc41.x86_64").mkdir(parents=True)
        (root / "usr/lib/modules/6.11.4-301.fc41.x86_64/vmlinuz").write_bytes(b"kernel")
        (root / "usr/lib/os-release").write_text(f"VERSION_ID=41\nSTAMP={time.time_ns()}\n")
        version = f"41.20241104.{time.time_ns() % 100000}"
        out = subprocess.run(
            [
                "ostree",
                "commit",
                f"--repo={opts['repo']}",
                f"--branch={treefile['ref']}",
                f"--subject={version}",
                f"--add-metadata-string=version={version}",
                "--add-metadata-string=rpmostree.inputhash=" + "ab" * 32,
                "--add-metadata=rpmostree.rpmdb.pkglist=[('bash', uint64 0, '5.2.32', '1.fc41', 'x86_64'), "
                "('kernel', uint64 0, '6.11.4', '301.fc41', 'x86_64'), "
                "('shadow-utils', uint64 2, '4.15.1', '12.fc41', 'x86_64')]",
                f"--tree=dir={root}",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    checksum = out.stdout.strip()
    print(f"Wrote commit: {checksum}", flush=True)
    Path(opts["write-commitid-to"]).write_text(checksum)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""MOCK of bootc, for tests only: bootc cannot run on the test machine (it needs a system it deployed).

``status --json`` prints the recorded ``bootc status --json`` document named by $FAKE_BOOTC_STATUS (documents in
bootc's exact shape: tests/fleet/data/README.md). With $FAKE_BOOTC_FAIL set it fails the way bootc does on a broken
system. The tests copy this file as ``bootc`` into a folder put first on the agent's PATH.

``switch [--enforce-container-sigpolicy] IMAGE`` does what bootc does up to the reboot: with the flag, the image is
pulled with the desktop's trust policy ($FAKE_BOOTC_POLICY, $FAKE_BOOTC_REGISTRIES_D) by the real skopeo, which reads
them through the same containers/image library as bootc, so a refused signature fails the switch; then the document
gets ``spec.image`` = IMAGE and the pulled digest as the staged entry. Each switch is appended to
$FAKE_BOOTC_STATUS.switches. The test "reboots" the desktop by rewriting the document.

Usage: bootc status --json | bootc switch [--enforce-container-sigpolicy] IMAGE
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def switch(args: list[str]) -> int:
    enforce = "--enforce-container-sigpolicy" in args
    images = [arg for arg in args if not arg.startswith("--")]
    if len(images) != 1:
        print(f"this mock only implements 'switch [--enforce-container-sigpolicy] IMAGE', not {args}", file=sys.stderr)
        return 2
    image = images[0]
    status_path = Path(os.environ["FAKE_BOOTC_STATUS"])
    with tempfile.TemporaryDirectory(prefix="fake-bootc-") as tmp:
        argv = ["skopeo"]
        if enforce:
            argv += [
                "--policy",
                os.environ["FAKE_BOOTC_POLICY"],
                "--registries.d",
                os.environ["FAKE_BOOTC_REGISTRIES_D"],
            ]
        else:
            argv += ["--insecure-policy"]
        tls = os.environ.get("FAKE_BOOTC_TLS_VERIFY", "true")
        argv += ["copy", f"--src-tls-verify={tls}", f"docker://{image}", f"dir:{tmp}/image"]
        pulled = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if pulled.returncode != 0:
            print(f"error: Switching: Pulling: {pulled.stderr.strip()}", file=sys.stderr)
            return 1
        digest = hashlib.sha256((Path(tmp) / "image" / "manifest.json").read_bytes()).hexdigest()
    doc = json.loads(status_path.read_text(encoding="utf-8"))
    reference = {"image": image, "transport": "registry"}
    if enforce:
        reference["signature"] = "containerPolicy"
    doc["spec"]["image"] = reference
    staged = copy.deepcopy(doc["status"]["booted"])
    staged["image"]["image"] = reference
    staged["image"]["imageDigest"] = f"sha256:{digest}"
    doc["status"]["staged"] = staged
    status_path.write_text(json.dumps(doc), encoding="utf-8")
    with open(f"{status_path}.switches", "a", encoding="utf-8") as log:
        log.write(" ".join(["switch", *args]) + "\n")
    print(f"Queued for next boot: {image}")
    return 0


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["switch"]:
        return switch(args[1:])
    if args not in (["status", "--json"], ["status", "--format=json"]):
        print(f"this mock only implements 'status --json' and 'switch', not {args}", file=sys.stderr)
        return 2
    if os.environ.get("FAKE_BOOTC_FAIL"):
        print("error: Status: Loading sysroot: opendir(/sysroot): No such file or directory", file=sys.stderr)
        return 1
    with open(os.environ["FAKE_BOOTC_STATUS"], encoding="utf-8") as handle:
        sys.stdout.write(handle.read())
    return 0


if __name__ == "__main__":
    sys.exit(main())

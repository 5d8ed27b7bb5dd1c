#!/usr/bin/env python3
"""Checks a firmware crate's manifest: espws, espws-apps and espws-board come by path with
default features off, and every registry dependency is pinned exactly (=x.y.z).

Usage: firmware_manifest_check.py ROOT CRATE METADATA_JSON
"""
import json
import os
import re
import sys

# Each shared crate, and where it lives relative to the repository root.
SHARED = {"espws": "espws", "espws-apps": "espws-apps", "espws-board": "firmware/board"}


def main() -> int:
    root, crate, path = sys.argv[1], sys.argv[2], sys.argv[3]
    package = json.load(open(path))["packages"][0]
    deps = {d["name"]: d for d in package["dependencies"]}
    problems = []
    for name, folder in SHARED.items():
        dep = deps.get(name)
        want = os.path.realpath(os.path.join(root, folder))
        if dep is None:
            problems.append(f"{name} is not a dependency")
        elif dep.get("path") is None or os.path.realpath(dep["path"]) != want:
            problems.append(f"{name} must come by path from {want}, not {dep.get('path') or dep.get('source')}")
        elif dep.get("uses_default_features"):
            problems.append(f"{name} must have default-features = false")
    for dep in package["dependencies"]:
        if dep.get("path") is None and not re.fullmatch(r"=\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?", dep["req"]):
            problems.append(f"{dep['name']} is not pinned exactly (={dep['req']!r} wanted =x.y.z)")
    if problems:
        print(f"firmware/{crate}/Cargo.toml:\n  " + "\n  ".join(problems))
        return 1
    registry = len(package["dependencies"]) - len(SHARED)
    print(f"firmware/{crate}: the shared crates by path, {registry} registry dependencies pinned exactly")
    return 0


if __name__ == "__main__":
    sys.exit(main())

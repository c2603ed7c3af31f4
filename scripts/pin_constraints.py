"""Print docker/constraints.txt: the exact versions of every runtime package installed in .venv.

Test-only tools (the `test` extra and what they pull in) are left out. The build backend
(setuptools, wheel) is not what .venv holds (pip builds in an isolated environment), so its
pins are carried over from the current file: change them there by hand.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(dist: str, seen: set[str]) -> set[str]:
    """``dist`` and everything it requires, transitively (installed distributions only)."""
    key = canonical(dist)
    if key in seen:
        return seen
    try:
        meta = metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return seen
    seen.add(key)
    for req in meta.requires or []:
        if "extra ==" in req:
            continue
        requirement_names(re.split(r"[<>=!~;\[ (]", req, maxsplit=1)[0], seen)
    return seen


def main() -> int:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    keep: set[str] = set()
    for dep in project["dependencies"]:
        requirement_names(re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0], keep)
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable", "--all"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    print("# Exact versions the validator image installs (the versions govops is tested with here).")
    print("# Regenerate with `make constraints` (scripts/pin_constraints.py): runtime dependencies only.")
    current = (PROJECT / "docker" / "constraints.txt").read_text().splitlines()
    build = [line for line in current if canonical(line.split("==", 1)[0]) in ("setuptools", "wheel")]
    lines = [line for line in frozen if canonical(line.split("==", 1)[0]) not in ("setuptools", "wheel")]
    for line in sorted(lines + build, key=str.lower):
        name = line.split("==", 1)[0]
        if "==" in line and (canonical(name) in keep or canonical(name) in ("setuptools", "wheel")):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

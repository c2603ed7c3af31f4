"""Drop stale copies from ``mutants/`` before ``mutmut run`` (issue 22: ``make mutate``).

mutmut 3 copies the source tree into ``mutants/`` once and never copies a file again: a module
that is not mutated but was edited since (a helper the mutated code calls, a test fixture's
data) would be tested in its old version. Every copied file whose bytes differ from the source
is removed here, so mutmut copies it afresh. Mutated files (``only_mutate`` in pyproject) are left
alone: mutmut regenerates those itself when their source changes.
"""

from __future__ import annotations

import fnmatch
import sys
import tomllib
from pathlib import Path


def main() -> int:
    root = Path.cwd()
    mutants = root / "mutants"
    if not mutants.is_dir():
        return 0
    conf = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["mutmut"]
    mutated = list(conf.get("only_mutate", []))
    removed = 0
    for copy in mutants.rglob("*"):
        if not copy.is_file() or copy.suffix == ".meta" or "__pycache__" in copy.parts:
            continue
        rel = copy.relative_to(mutants).as_posix()
        if any(fnmatch.fnmatchcase(rel, pattern) for pattern in mutated):
            continue
        source = root / rel
        if not source.is_file() or source.read_bytes() != copy.read_bytes():
            copy.unlink()
            removed += 1
    print(f"mutants_refresh: {removed} stale copied file(s) removed from mutants/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

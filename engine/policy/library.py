"""The Rego policy library on disk: module sources, unit tests, waivers, digest and revision.

Part of the policy stage. Reads ``policies/`` only; never compiles or evaluates (the
backends do) and never writes.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from engine.policy.errors import PolicyError
from engine.spec.limits import check_policy_library, policy_file_sizes

ENTRYPOINT = "data.govops.main"
ENTRYPOINT_PATH = "govops/main"


@dataclass(frozen=True)
class PolicyLibrary:
    """The ``.rego`` modules (name -> source) of one policy directory."""

    root: Path
    directory: str
    modules: dict[str, str]
    tests: dict[str, str] = field(default_factory=dict)
    at: str | None = None
    """The commit the modules were read from (None: the working tree)."""

    @cached_property
    def digest(self) -> str:
        """sha256 over the names and sources of the (non-test) modules."""
        h = hashlib.sha256()
        for name in sorted(self.modules):
            h.update(name.encode())
            h.update(b"\0")
            h.update(self.modules[name].encode())
            h.update(b"\0")
        return h.hexdigest()

    def display(self, name: str) -> str:
        """Repository-relative path of a module, as error messages show it."""
        return f"{self.directory.rstrip('/')}/{name}"

    def revision(self) -> str | None:
        """The last commit that touched the policy directory (None outside Git)."""
        return self.start_revision()()

    def start_revision(self) -> Callable[[], str | None]:
        """Start ``git log`` now and return a function that waits for the revision (runs beside other work)."""
        try:
            proc = subprocess.Popen(
                ["git", "-C", str(self.root), "-c", "core.useReplaceRefs=false", "log", "-1", "--format=%H",
                 *([self.at] if self.at else []), "--", self.directory],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        except OSError:
            return lambda: None

        def result() -> str | None:
            try:
                out, _ = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                return None
            return (out or "").strip() or None

        return result


def library_from_sources(
    root: Path, directory: str, sources: dict[str, str], *, with_tests: bool = False, at: str | None = None
) -> PolicyLibrary:
    """A library from ``name -> source`` (names relative to ``directory``), split into modules and tests."""
    check_policy_library(directory, {n: len(s) for n, s in sources.items()})
    modules = {n: s for n, s in sources.items() if not n.endswith("_test.rego")}
    tests = {n: s for n, s in sources.items() if n.endswith("_test.rego")}
    if not modules:
        where = f" at {at[:12]}" if at else ""
        raise PolicyError(f"no .rego policies in {directory}/{where}", file=directory)
    return PolicyLibrary(root=root, directory=directory, modules=modules, tests=tests if with_tests else {}, at=at)


def load_library(root: Path, directory: str = "policies", *, with_tests: bool = False) -> PolicyLibrary:
    """Read every ``*.rego`` under ``root/directory`` (tests only when asked)."""
    base = (root / directory).resolve()
    if not base.is_dir():
        raise PolicyError(f"no policy directory at {directory}/ (set GOVOPS_POLICY_DIR or create it)", file=directory)
    sources: dict[str, str] = {}
    paths = sorted(base.rglob("*.rego"))
    check_policy_library(directory, policy_file_sizes(base, paths, directory))  # before reading any of them
    for path in paths:
        name = path.relative_to(base).as_posix()
        try:
            sources[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise PolicyError("policy file is not UTF-8", file=f"{directory}/{name}", line=1, col=1) from None
    return library_from_sources(root, directory, sources, with_tests=with_tests)

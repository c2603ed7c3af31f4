"""One error tree: every public exception class under ``engine/`` and ``runners/`` is a ``GovopsError``.

Found by importing every module (so a class added anywhere is checked), each must carry an exit
code the CLI knows (1 governance, 2 input, 3 bug) and a docstring that says when it is raised.
Private control-flow exceptions (``_Refused``, ``_Unbuildable``) never leave their module;
``ModelWorkerError`` is the one documented exception (its file runs alone in the worker).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import engine
import runners
from engine.spec.errors import EXIT_BUG, EXIT_GOVERNANCE, EXIT_INPUT, GovopsError

# modules that only run as a separate process's entry point (importing them does that process's work)
_ENTRY_POINTS = {"runners.__main__"}
# outside the tree on purpose: runners/model_worker.py also runs alone in the sandboxed prediction
# worker, which imports only the standard library and numpy (see engine/spec/errors.py)
_STANDALONE = {"runners.model_worker.ModelWorkerError"}


def _public_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for pkg in (engine, runners):
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg.__name__}."):
            if info.name in _ENTRY_POINTS:
                continue
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if (inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__
                        and not name.startswith("_")):
                    found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_public_exception_is_in_the_tree() -> None:
    found = _public_exceptions()
    assert len(found) >= 20, sorted(found)  # the walk found the tree (not an empty package list)
    assert _STANDALONE <= set(found), "the standalone exception moved: update _STANDALONE"
    found = {name: cls for name, cls in found.items() if name not in _STANDALONE}
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, GovopsError))
    assert not outside, f"not a GovopsError: {outside}"
    codes = {name: cls.exit_code for name, cls in found.items()  # type: ignore[attr-defined]
             if cls.exit_code not in (EXIT_GOVERNANCE, EXIT_INPUT, EXIT_BUG)}  # type: ignore[attr-defined]
    assert not codes, f"exit codes the CLI does not know: {codes}"
    undocumented = sorted(name for name, cls in found.items() if not (cls.__doc__ or "").strip()
                          or cls.__doc__ == GovopsError.__doc__ and cls is not GovopsError)
    assert not undocumented, f"no docstring of their own: {undocumented}"


def test_exit_bug_is_beside_the_other_codes() -> None:
    import engine.cli

    assert engine.cli.EXIT_BUG == EXIT_BUG == 3
    assert (EXIT_GOVERNANCE, EXIT_INPUT) == (1, 2)

"""Directory names ``govops.yaml`` gives (``specPaths``): one spelling per directory, or refused.

Every reader of the spec directories compares them with the paths Git prints (``specs/a.yaml``):
``verify`` to find the commits that changed a spec, the plan, lint and rollout to find the
files. A spelling Git never prints (``./specs``, ``specs/.``, ``a//b``) would match nothing in
one reader and everything in another, and a control character (the record separator of
``verify``'s history walk) could pose as walk output. So only the plain form is accepted: a
relative path with no ``.``/``..``/empty part, no control character, not starting with ``-``
or ``:``; one trailing ``/`` is allowed and dropped. Imports nothing heavy (``verify``'s light path).
"""

from __future__ import annotations

import posixpath
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def spec_dir_problem(value: str) -> str | None:
    """Why ``value`` is not a usable spec directory, or None when it is."""
    name = value[:-1] if value.endswith("/") else value
    if _CONTROL.search(value):
        return f"spec path {value!r} holds a control character"
    if not name or name.startswith(("/", "-", ":")):
        return f"spec path {value!r} must be a directory relative to the repository root, such as 'specs'"
    if posixpath.normpath(name) != name or name in (".", "..") or name.startswith("../"):
        plain = posixpath.normpath(name).lstrip("/")
        hint = f" (write {plain!r})" if plain not in (".", "..") and not plain.startswith("../") else ""
        return f"spec path {value!r} is not in its plain form{hint}: no '.', '..' or empty parts"
    return None


def spec_dir(value: str) -> str:
    """``value`` without its trailing ``/`` (``spec_dir_problem`` said it is usable)."""
    return value[:-1] if value.endswith("/") else value

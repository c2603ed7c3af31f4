"""Bounds on every input a pull request can reach: data files, event payloads, policies, waivers.

Spec stage (imported by every later stage). A PR author controls the bytes govops reads,
so every read here is capped *before* the bytes are in memory, and only regular files
are read: a device (``/dev/zero``), a FIFO or a socket never reaches ``read()``. This
module must never read a file whole without a cap, and never open a file in a way that
can block (FIFOs are opened non-blocking and refused).

The defaults suit a GitOps repository; data files may be capped in ``govops.yaml``
(``limits.maxDataBytes``, read from the base branch like the rest of the config), and
every cap can be changed by a ``GOVOPS_*`` environment variable set by the operator.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.spec.errors import InputError

if TYPE_CHECKING:
    from engine.spec.config import Governance

GiB = 1024**3
MiB = 1024**2
KiB = 1024

DEFAULT_MAX_SPEC_BYTES = 1 * MiB
"""A spec (or govops.yaml) file; ``GOVOPS_MAX_SPEC_BYTES``."""

DEFAULT_MAX_SPEC_DEPTH = 32
"""Nesting of a spec, counted on the YAML parser's events; ``GOVOPS_MAX_SPEC_DEPTH``."""

DEFAULT_MAX_DATA_BYTES = 2 * GiB
"""A data file or model artifact named by a spec URI (``limits.maxDataBytes``, ``GOVOPS_MAX_DATA_BYTES``)."""

DEFAULT_MAX_EVENT_BYTES = 25 * MiB
"""A GitHub event payload (GitHub caps webhook payloads at 25 MB); ``GOVOPS_MAX_EVENT_BYTES``."""

DEFAULT_MAX_EVENT_DEPTH = 64
"""Nesting of a GitHub event payload (real ones nest about 6 levels); ``GOVOPS_MAX_EVENT_DEPTH``."""

DEFAULT_MAX_POLICY_FILES = 500
"""``*.rego`` files under ``policies/``; ``GOVOPS_MAX_POLICY_FILES``."""

DEFAULT_MAX_POLICY_BYTES = 16 * MiB
"""Total size of the ``*.rego`` files under ``policies/``; ``GOVOPS_MAX_POLICY_BYTES``."""

DEFAULT_MAX_WAIVER_BYTES = 1 * MiB
"""Size of ``waivers.yaml``; ``GOVOPS_MAX_WAIVER_BYTES``."""

DEFAULT_MAX_WAIVERS = 1000
"""Entries in ``waivers.yaml`` (each is matched against every decision); ``GOVOPS_MAX_WAIVERS``."""

_CHUNK = 1 * MiB


class LimitError(InputError):
    """An input that is too large, too deep, or not a regular file (exit 2).

    ``size`` is set when the input was refused for its size (so callers can word it).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
        size: int | None = None,
    ) -> None:
        super().__init__(message, file=file, line=line, col=col)
        self.size = size


def env_limit(name: str, default: int) -> int:
    """``GOVOPS_<NAME>`` (the ``Settings`` field ``<name>``) when set, else ``default``.

    A bad value is an input error naming the variable (raised by ``get_settings``). The
    settings class (pydantic-settings, ~0.1 s to import) is asked only when the variable is
    set, in any case, as it matches names: an unset bound is the default at no cost.
    """
    wanted = f"GOVOPS_{name}".upper()
    if not any(k.upper() == wanted for k in os.environ):
        return default
    from engine.spec.settings import get_settings

    settings = get_settings()
    field = name.lower()
    value = getattr(settings, field)
    return int(value) if field in settings.model_fields_set and value is not None else default


def max_data_bytes(config: Governance | None = None) -> int:
    """The cap on one data file or artifact: ``GOVOPS_MAX_DATA_BYTES``, else govops.yaml, else 2 GiB."""
    configured = config.limits.max_data_bytes if config is not None and config.limits is not None else None
    return env_limit("MAX_DATA_BYTES", configured or DEFAULT_MAX_DATA_BYTES)


def human(n: int) -> str:
    """``1.5 MiB``-style size for messages."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def file_problem(path: Path, max_bytes: int, setting: str = "limits.maxDataBytes in govops.yaml") -> str | None:
    """Why the file at ``path`` may not be read (not regular, too large), or ``None``.

    Follows symlinks (what a read would open) and never opens the file, so a FIFO cannot
    block it. A missing file is not a problem here: the reader reports it in context.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot examine it: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"it is {_kind(st.st_mode)}; only regular files are read"
    if st.st_size > max_bytes:
        return f"it is {human(st.st_size)}, over the {human(max_bytes)} limit (raise {setting})"
    return None


def read_capped(path: Path, max_bytes: int, shown: str, setting: str = "limits.maxDataBytes in govops.yaml") -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them.

    Opened non-blocking (a FIFO with no writer would otherwise hang the open), checked
    with ``fstat`` on the open descriptor (no window between check and read), and read
    in chunks up to one byte past the cap, so a file that grows, or a ``/proc`` file
    whose size reads as 0, still cannot exceed it. Raises :class:`LimitError` or
    ``FileNotFoundError``/``PermissionError``/``IsADirectoryError`` for the caller to word.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        if not stat.S_ISREG(st.st_mode):
            raise LimitError(f"{shown}: it is {_kind(st.st_mode)}; only regular files are read")
        if st.st_size > max_bytes:
            raise LimitError(
                f"{shown}: it is {human(st.st_size)}, over the {human(max_bytes)} limit (raise {setting})",
                size=st.st_size,
            )
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise LimitError(
                    f"{shown}: it holds more than the {human(max_bytes)} limit (raise {setting})", size=total
                )
        return b"".join(chunks)
    finally:
        os.close(fd)


_JSON_SPECIAL = re.compile(rb'["\\\[\]{}]')


def json_depth_problem(raw: bytes, max_depth: int) -> tuple[int, str] | None:
    """``(offset, message)`` if ``raw`` nests JSON arrays/objects deeper than ``max_depth``.

    A linear pre-scan that looks only at quotes, backslashes and brackets, so the recursive
    ``json`` parser is only ever given documents it can finish: Python's parser fails late,
    with a ``RecursionError``, on a deep document.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return None
    depth = 0
    in_string = False
    skip = -1
    for m in _JSON_SPECIAL.finditer(raw):
        pos = m.start()
        if pos == skip:
            continue
        ch = m.group()
        if in_string:
            if ch == b"\\":
                skip = pos + 1
            elif ch == b'"':
                in_string = False
        elif ch == b'"':
            in_string = True
        elif ch in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return pos, f"nested deeper than {max_depth} levels"
        elif ch in (b"]", b"}"):
            depth -= 1
    return None


def line_col(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based ``(line, col)`` of a byte offset."""
    before = raw[:offset]
    return before.count(b"\n") + 1, offset - (before.rfind(b"\n") + 1) + 1


def load_json_capped(path: Path, shown: str, *, max_bytes: int, max_depth: int, what: str) -> Any:
    """A JSON document from a file, bounded in size and nesting; errors are :class:`InputError` at file:line:col."""
    try:
        raw = read_capped(path, max_bytes, shown, setting=f"GOVOPS_MAX_{what.upper()}_BYTES")
    except LimitError as exc:
        raise LimitError(f"{what} payload refused: {exc.message}", file=shown) from None
    except OSError as exc:
        raise InputError(f"cannot read the {what} payload: {exc.strerror or exc}", file=shown) from None
    deep = json_depth_problem(raw, max_depth)
    if deep is not None:
        line, col = line_col(raw, deep[0])
        raise LimitError(f"malformed {what} payload: {deep[1]}", file=shown, line=line, col=col)
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"malformed {what} payload: not JSON ({getattr(exc, 'msg', exc)})",
            file=shown,
            line=getattr(exc, "lineno", None),
            col=getattr(exc, "colno", None),
        ) from None
    except RecursionError:  # the pre-scan makes this unreachable; never let it become a traceback
        raise LimitError(f"malformed {what} payload: nested too deeply", file=shown) from None


def check_policy_library(directory: str, sizes: Mapping[str, int]) -> None:
    """Refuse a policy library with too many ``*.rego`` files or too many bytes, before it is compiled.

    ``sizes`` maps file names to byte sizes (from ``stat`` on disk or ``git ls-tree -l``),
    so the check runs before any file is read.
    """
    max_files = env_limit("MAX_POLICY_FILES", DEFAULT_MAX_POLICY_FILES)
    max_bytes = env_limit("MAX_POLICY_BYTES", DEFAULT_MAX_POLICY_BYTES)
    if len(sizes) > max_files:
        raise LimitError(
            f"{len(sizes)} .rego files in {directory}/; a policy library may have at most {max_files} "
            "(raise GOVOPS_MAX_POLICY_FILES)",
            file=directory,
        )
    total = sum(sizes.values())
    if total > max_bytes:
        biggest = max(sizes, key=lambda n: sizes[n])
        raise LimitError(
            f"the .rego files in {directory}/ hold {human(total)}, over the {human(max_bytes)} limit "
            f"(largest: {biggest}, {human(sizes[biggest])}; raise GOVOPS_MAX_POLICY_BYTES)",
            file=directory,
        )


def policy_file_sizes(base: Path, paths: list[Path], directory: str) -> dict[str, int]:
    """``name -> size`` of policy files on disk (``stat`` only), refusing anything that is not a regular file."""
    out: dict[str, int] = {}
    for path in paths:
        name = path.relative_to(base).as_posix()
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise LimitError(f"it is {_kind(st.st_mode)}; only regular files are read", file=f"{directory}/{name}")
        out[name] = st.st_size
    return out


def max_waiver_bytes() -> int:
    """The cap on ``waivers.yaml``'s size."""
    return env_limit("MAX_WAIVER_BYTES", DEFAULT_MAX_WAIVER_BYTES)


def check_waiver_count(data: Any, shown: str, line: int = 1) -> None:
    """Refuse a waivers document with more entries than ``GOVOPS_MAX_WAIVERS`` (before validating them)."""
    waivers = data.get("waivers") if isinstance(data, dict) else None
    limit = env_limit("MAX_WAIVERS", DEFAULT_MAX_WAIVERS)
    if isinstance(waivers, list) and len(waivers) > limit:
        raise LimitError(
            f"{len(waivers)} waivers; at most {limit} may be declared (each is matched against every decision: "
            "remove expired ones, or raise GOVOPS_MAX_WAIVERS)",
            file=shown,
            line=line,
            col=1,
        )

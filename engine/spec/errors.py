"""Every error govops raises, in one tree (httpx-style): a ``GovopsError`` carries a location and its exit code.

The CLI maps every ``GovopsError`` to its message and exit code in one place, so no
bad input ever surfaces as a Python traceback. Exit codes: 0 ok, 1 governance
failure, 2 input or usage error the user must fix, 3 a bug in govops.

The tree::

    GovopsError
    ├── InputError                 exit 2: input the user must fix
    │   ├── UsageError, ConfigError
    │   ├── KpiError               (also a ValueError)
    │   ├── TableError             (also a ValueError)
    │   ├── PayloadError           (also a ValueError)
    │   ├── MissingSecret          (also a LookupError)
    │   │   └── ForbiddenSecret
    │   └── CheckError
    │       └── RefusedInput
    ├── ServiceError               exit 2: a service or process govops talks to failed
    │   ├── DeliveryError
    │   └── MalformedOutput        (also a ValueError)
    └── GovernanceFailure          exit 1: well-formed, not allowed

Stage-specific subclasses (``PolicyError``, ``GitReadError``, ``ArgoError``, ...) live beside
their stage and inherit from a group here; ``tests/spec/test_error_tree.py`` walks every module
and fails on a public exception outside the tree. Where old code catches ``ValueError`` or
``LookupError``, the class keeps that second base. One exception stays outside:
``runners.model_worker.ModelWorkerError``, because that file also runs alone in the sandboxed
prediction worker, importing only the standard library and numpy (``runners.data`` turns a
failed model load into a ``CheckError``).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_GOVERNANCE = 1
EXIT_INPUT = 2
EXIT_BUG = 3
"""An internal error: a bug in govops (``engine.cli`` says so; ``GOVOPS_DEBUG=1`` shows the traceback)."""


class GovopsError(Exception):
    """Base error: a message, an optional ``file:line:col`` and the exit code to use."""

    exit_code = EXIT_INPUT

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.col = col

    def location(self) -> str:
        """``file:line:col`` (as much of it as is known), or an empty string."""
        if not self.file:
            return ""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def render(self) -> str:
        """The one-line form printed on stderr."""
        loc = self.location()
        return f"{loc}: error: {self.message}" if loc else f"error: {self.message}"


class InputError(GovopsError):
    """Input the user must fix: a file, a flag, a ref (exit 2)."""

    exit_code = EXIT_INPUT


class UsageError(InputError):
    """A command used wrongly (exit 2)."""


class ConfigError(InputError):
    """``govops.yaml`` is missing or invalid (exit 2)."""


class GovernanceFailure(GovopsError):
    """The change is well-formed but not allowed: violations, failed checks (exit 1)."""

    exit_code = EXIT_GOVERNANCE


# --- input the user must fix (exit 2) ------------------------------------------------------------


class KpiError(InputError, ValueError):
    """A KPI expression that is not in the KPI language, or that cannot be evaluated on this log.

    ``col`` is the 1-based column in the expression where known.
    """

    def __init__(self, message: str, col: int | None = None) -> None:
        super().__init__(message, col=col)


class TableError(InputError, ValueError):
    """A routing table document the gateway cannot use (the message says what and where)."""


class PayloadError(InputError, ValueError):
    """A malformed V2 inference request; the message is the reason given to the caller (HTTP 400)."""


class MissingSecret(InputError, LookupError):
    """A secret named by a spec or by the SMTP settings is neither in the environment nor the secrets file."""


class ForbiddenSecret(MissingSecret):
    """A spec's channel names a secret its tenant may not use (or one that is never a channel secret)."""


class CheckError(InputError):
    """A check cannot run: bad or missing input. Becomes an ``error`` result with this message."""


class RefusedInput(CheckError):
    """A file a spec URI names that is never read: not a regular file, or over the size cap."""


# --- a service or process govops talks to failed (exit 2) ----------------------------------------


class ServiceError(GovopsError):
    """Something outside govops' own code failed or answered wrongly: a server, an engine, a worker (exit 2)."""

    exit_code = EXIT_INPUT


class DeliveryError(ServiceError):
    """An alert send failed. ``retryable`` is false when retrying cannot help without a fix (bad payload, bad key)."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class MalformedOutput(ServiceError, ValueError):
    """A policy engine's answer that cannot be read exactly (the caller raises ``PolicyError``)."""

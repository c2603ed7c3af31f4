"""Typed errors: one base class that carries a location and the process exit code.

The CLI maps every ``GovopsError`` to its message and exit code in one place, so no
bad input ever surfaces as a Python traceback. Exit codes: 0 ok, 1 governance
failure, 2 input or usage error the user must fix.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_GOVERNANCE = 1
EXIT_INPUT = 2


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

"""The policy backend protocol, the registry of backends by name, and the result contract.

Part of the policy stage. A backend compiles (or loads) the library once and then
evaluates ``data.govops.main`` for one input at a time; ``check_result`` holds every
backend to the same fail-closed contract: anything but ``{"deny": [...], "warn": [...]}``
with well-formed items is an error, never an allow. Every backend reads its engine's
answer with ``engine.policy.exact.loads_strict`` (duplicate keys refused) and refuses an
input it cannot hand over exactly (``refuse_inexact``). Backends never read Git or specs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from engine.policy.errors import PolicyError, PolicyInputError
from engine.policy.exact import MAX_FLOAT_DIGITS, inexact_number, inexact_string
from engine.policy.library import PolicyLibrary
from engine.spec.errors import UsageError
from engine.spec.settings import Settings

Decision = dict[str, list[dict[str, Any]]]


class PolicyBackend(Protocol):
    """Compile once, evaluate many; ``close`` releases workers or connections."""

    name: str
    accepts_compact: bool
    """True when, after ``load(library, run)``, inputs may be sent in the compact form (``engine.policy.compact``)."""

    def load(self, library: PolicyLibrary, run: dict[str, Any] | None = None, *, wait: bool = True) -> None:
        """Compile or push the library; raises ``PolicyError`` with the Rego file:line on a bad policy.

        ``run`` holds the run-level documents (``config``, ``freezes``, ``waivers``) for a
        backend that takes compact inputs; others ignore it. ``wait=False`` lets a backend
        finish in the background (errors then surface at ``evaluate_many``).
        """
        ...

    def evaluate_many(self, inputs: Sequence[tuple[str, str]]) -> list[Decision]:
        """Decisions for ``(model, input JSON)`` pairs, in order; raises ``PolicyError`` on any failure."""
        ...

    def close(self) -> None:
        """Release resources (idempotent)."""
        ...


def refuse_inexact(model: str, text: str) -> None:
    """Refuse an input holding a string no engine can be handed exactly (``PolicyInputError``, exit 2).

    A lone surrogate (how Python reads a file name that is not UTF-8) would reach OPA
    as U+FFFD, so two different names could look the same to a policy; both backends
    refuse it, so they never decide differently.
    """
    where = inexact_string(text)
    if where is not None:
        raise PolicyInputError(
            f"the policy input for {model} holds a string that is not valid Unicode at {where} "
            "(for example a file name that is not UTF-8); no policy engine can be handed it exactly: "
            "rename it"
        )
    number = inexact_number(text)
    if number is not None:
        raise PolicyInputError(
            f"the policy input for {model} holds the number {number[1]!r} at {number[0]}, which needs more than "
            f"{MAX_FLOAT_DIGITS} significant digits; the embedded engine would round it and could decide "
            f"differently from OPA: write it with at most {MAX_FLOAT_DIGITS}"
        )


def check_result(result: Any, where: str) -> Decision:
    """The decision if ``result`` has the documented shape; else a ``PolicyError`` naming ``where``."""
    if not isinstance(result, dict) or not isinstance(result.get("deny"), list) or not isinstance(
        result.get("warn"), list
    ):
        raise PolicyError(
            f"{where}: data.govops.main must return {{\"deny\": [...], \"warn\": [...]}}, got {_short(result)}"
        )
    for key in ("deny", "warn"):
        for item in result[key]:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("rule"), str)
                or not isinstance(item.get("message"), str)
                or not isinstance(item.get("path", ""), str)
                or not isinstance(item.get("file", ""), str)
            ):
                raise PolicyError(
                    f"{where}: each {key} item must be {{\"rule\": string, \"message\": string, "
                    f"\"path\": string}}, got {_short(item)}"
                )
    return {"deny": list(result["deny"]), "warn": list(result["warn"])}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _regopy(settings: Settings) -> PolicyBackend:
    from engine.policy.regopy_backend import RegopyBackend

    return RegopyBackend(
        timeout_s=settings.policy_timeout_s,
        jobs=settings.policy_jobs,
        bundle_cache=settings.policy_cache and settings.policy_bundle_cache,
    )


def _opa(settings: Settings) -> PolicyBackend:
    from engine.policy.opa_backend import OpaBackend

    if not settings.opa_url:
        raise UsageError("the opa backend needs GOVOPS_OPA_URL (e.g. http://127.0.0.1:8181)")
    return OpaBackend(settings.opa_url, timeout_s=settings.opa_timeout_s, retries=settings.opa_retries)


BACKENDS: dict[str, Callable[[Settings], PolicyBackend]] = {"regopy": _regopy, "opa": _opa}


def default_backend_name(settings: Settings) -> str:
    """``GOVOPS_POLICY_BACKEND``, else ``opa`` when ``GOVOPS_OPA_URL`` is set, else ``regopy``."""
    if settings.policy_backend:
        return settings.policy_backend
    return "opa" if settings.opa_url else "regopy"


def get_backend(name: str | None, settings: Settings) -> PolicyBackend:
    """The backend registered under ``name`` (default: ``default_backend_name``)."""
    chosen = name or default_backend_name(settings)
    if chosen not in BACKENDS:
        raise UsageError(f"unknown policy backend '{chosen}'; choose one of: {', '.join(BACKENDS)}")
    return BACKENDS[chosen](settings)

"""Errors of the policy stage: all exit 2 (the policy or its input must be fixed), never allow."""

from __future__ import annotations

from engine.spec.errors import InputError


class PolicyError(InputError):
    """A decision could not be reached: compile error, builtin error, bad shape, timeout, OPA down."""


class PolicyInputError(PolicyError):
    """A spec or change context that the policy input document cannot express."""

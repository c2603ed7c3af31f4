"""govops validation checks (``runners/``): one module per check kind, one result format.

Validation stage of the flow. ``python -m runners CHECK --spec FILE --model ID --out FILE``
runs one check (the Argo step's entry point); the local executor calls
:func:`runners.runner.run_check` in worker processes. Checks judge data and models
named in the spec; they never change the repository, the spec or the served models.
"""

from engine.spec.check_result import CheckResult, InputRef, Metric
from runners.base import REGISTRY, Check, CheckContext, Outcome, get, names, register

__all__ = [
    "REGISTRY", "Check", "CheckContext", "CheckResult", "InputRef", "Metric", "Outcome", "get", "names", "register",
]

"""govops: GitOps, policy-as-code governance for machine-learning models.

The packages follow the flow in DESIGN.md, one per stage, in order: ``spec`` (YAML with
positions, typed specs, lint) -> ``change`` (Git, plan, PR context) -> ``policy`` ->
``validation`` -> ``report`` -> ``rollout`` -> ``gateway`` -> ``monitoring`` -> ``audit``;
``statistics`` and ``mlserver`` are foundations beside ``spec``. A stage imports only earlier
ones (``tests/test_layering.py``); ``cli`` and ``commands`` wire them to sub-commands.
"""

__version__ = "0.1.0"

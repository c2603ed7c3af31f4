"""govops: GitOps, policy-as-code governance for machine-learning models.

The package follows the flow in DESIGN.md, one module per stage: ``loader`` (YAML with
positions) -> ``spec``/``config`` (typed models) -> ``lint`` -> ``plan`` -> policy ->
validation -> report -> rollout -> ledger/audit. ``cli`` wires them to commands.
"""

__version__ = "0.1.0"

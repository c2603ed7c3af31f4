"""Which checks a model must pass, and with which thresholds.

The tier (in ``govops.yaml``) names the required checks and their default thresholds;
a spec may add checks and override thresholds. The effective set is the tier's
defaults overlaid with the spec's values. Whether an override is a loosening is the
policies' business (they see both); this module only merges.
"""

from __future__ import annotations

from engine.spec.config import Governance
from engine.spec.model import ModelSpec

Thresholds = dict[str, dict[str, float]]


def effective_checks(spec: ModelSpec, config: Governance | None) -> Thresholds:
    """``check -> threshold -> value`` for every check that runs for this model.

    Checks run when the tier requires them or the spec configures them (and does not
    disable them); disabling a required check is visible to policies, which deny it.
    """
    tier = config.tiers.get(spec.spec.tier) if config else None
    required = list(tier.required_checks) if tier else []
    declared = spec.spec.validation.checks if spec.spec.validation else {}
    out: Thresholds = {}
    for check in required + [c for c in declared if c not in required]:
        cfg = declared.get(check)
        if cfg is not None and not cfg.enabled and check not in required:
            continue
        merged = dict(tier.defaults.get(check, {})) if tier else {}
        if cfg is not None:
            merged.update(cfg.thresholds)
        out[check] = merged
    return out

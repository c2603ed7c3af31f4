"""The built-in checks, one module per check kind; importing this package registers them all.

Validation stage. Each module defines one :class:`runners.base.Check` subclass
registered under its catalog name. Checks read only through their context and never write.
"""

from runners.checks import (  # noqa: F401
    backtest,
    bias,
    champion,
    data_quality,
    drift,
    explainability,
    fit,
    importance,
    leakage,
    performance,
    robustness,
    serving_parity,
)

"""Statistics shared by the validation checks (``runners/``) and monitoring: the foundation both may import.

A drift check at validation time and a drift kind in monitoring must compute the same
number from the same formula (PSI on the same bins, KS with the same p-value, the same
model metrics and group rates), or a model that passed validation would be judged by a
different rule once it serves. Both sides therefore import these modules, and they sit at
the bottom of the layering (rank 0 beside ``engine.spec`` and ``engine.mlserver``): pure
numerics, arrays in and numbers out, importing nothing of ``engine`` or ``runners``, so the
checks' sandbox image and the monitor read one definition each.

* :mod:`engine.statistics.drift`: two-sample drift statistics (KS, p-value, Wasserstein, PSI).
* :mod:`engine.statistics.sketch`: mergeable histograms over reference quantiles, category counts.
* :mod:`engine.statistics.metrics`: model quality metrics (scikit-learn).
* :mod:`engine.statistics.fairness`: group rates and the fairness measures over them.
"""

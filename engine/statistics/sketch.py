"""Mergeable distribution summaries: fixed-edge histograms over reference quantiles, category counts.

Foundation (see :mod:`engine.statistics`), pure numerics: the validation stage builds reference
sketches, monitoring fills and compares them. A numeric feature's reference profile fixes two sets of
edges once per model version: the reference deciles (PSI bins, exactly the bins the
validation drift check uses, from ``engine.statistics.drift.quantile_edges``) and the reference
percentiles (KS bins). A summary is the count of values in every bin (right-closed, as
``engine.statistics.drift``), plus count, missing, min, max, sum and sum of squares. Summaries over
the same edges merge by adding counts, so a window's summary can be built per log part or
per day and combined, and monitoring never needs the raw reference again.

Accuracy: PSI on the decile bins equals the validation check's PSI exactly. KS is read
off the cumulative counts at the percentile edges: a lower bound of the exact statistic
whose error is at most the mass of one reference bin (1 % of the reference, plus ties).
Quantiles (median, MAD for the robust z-score) are stored exactly at profile time.
This module never reads files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.statistics.drift import psi_from_shares, quantile_edges

PSI_BINS = 10
KS_BINS = 100


@dataclass
class NumericSketch:
    """Counts of values per bin over fixed edges, plus moments; mergeable by addition."""

    psi_edges: np.ndarray
    ks_edges: np.ndarray
    psi_counts: np.ndarray
    ks_counts: np.ndarray
    count: int = 0
    missing: int = 0
    min: float = math.inf
    max: float = -math.inf
    total: float = 0.0
    total_sq: float = 0.0

    @classmethod
    def empty_like(cls, other: NumericSketch) -> NumericSketch:
        """A sketch with no values over ``other``'s edges."""
        return cls(other.psi_edges, other.ks_edges, np.zeros(len(other.psi_edges) + 1, np.int64),
                   np.zeros(len(other.ks_edges) + 1, np.int64))

    def add(self, values: np.ndarray) -> NumericSketch:
        """Count ``values`` (NaN counts as missing) into this sketch; returns self.

        The values are sorted once (NaNs sort last) and the bin counts read off with a
        ``searchsorted`` of the few edges into them: right-closed bins, exactly as
        ``engine.statistics.drift`` bins the reference, and about ten times faster than locating
        every value among the edges.
        """
        s = np.sort(np.asarray(values, dtype=np.float64))
        n = len(s) - int(np.count_nonzero(np.isnan(s)))  # NaNs sort last
        self.missing += len(s) - n
        s = s[:n]
        if n == 0:
            return self
        self.psi_counts += _bin_counts(s, self.psi_edges)
        self.ks_counts += _bin_counts(s, self.ks_edges)
        self.count += n
        self.min = min(self.min, float(s[0]))
        self.max = max(self.max, float(s[-1]))
        self.total += float(s.sum())
        self.total_sq += float(np.einsum("i,i->", s, s))  # not np.dot: BLAS threads cost more than the sum
        return self

    def merge(self, other: NumericSketch) -> NumericSketch:
        """The sum of two sketches over the same edges (a new object)."""
        if not (np.array_equal(self.psi_edges, other.psi_edges) and np.array_equal(self.ks_edges, other.ks_edges)):
            raise ValueError("cannot merge sketches over different edges")
        return NumericSketch(
            self.psi_edges, self.ks_edges, self.psi_counts + other.psi_counts, self.ks_counts + other.ks_counts,
            self.count + other.count, self.missing + other.missing, min(self.min, other.min),
            max(self.max, other.max), self.total + other.total, self.total_sq + other.total_sq,
        )

    @property
    def mean(self) -> float | None:
        """Mean of the non-missing values."""
        return self.total / self.count if self.count else None

    def to_data(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "psi_edges": self.psi_edges.tolist(), "ks_edges": self.ks_edges.tolist(),
            "psi_counts": self.psi_counts.tolist(), "ks_counts": self.ks_counts.tolist(),
            "count": self.count, "missing": self.missing,
            "min": self.min if self.count else None, "max": self.max if self.count else None,
            "total": self.total, "total_sq": self.total_sq,
        }

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> NumericSketch:
        """Inverse of :meth:`to_data`."""
        return cls(
            np.asarray(d["psi_edges"], dtype=np.float64), np.asarray(d["ks_edges"], dtype=np.float64),
            np.asarray(d["psi_counts"], dtype=np.int64), np.asarray(d["ks_counts"], dtype=np.int64),
            int(d["count"]), int(d["missing"]),
            math.inf if d.get("min") is None else float(d["min"]),
            -math.inf if d.get("max") is None else float(d["max"]),
            float(d["total"]), float(d["total_sq"]),
        )


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per right-closed bin ``(edges[i-1], edges[i]]`` of already sorted values."""
    cum = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate([[0], cum, [len(sorted_values)]])).astype(np.int64)


def numeric_reference(values: np.ndarray, *, psi_bins: int = PSI_BINS, ks_bins: int = KS_BINS) -> NumericSketch:
    """A reference sketch: edges at the reference's quantiles, then the reference counted into them."""
    v = np.asarray(values, dtype=np.float64)
    s = np.sort(v[~np.isnan(v)])
    if len(s) == 0:
        empty = np.zeros(0, dtype=np.float64)
        return NumericSketch(empty, empty, np.zeros(1, np.int64), np.zeros(1, np.int64), missing=len(v))
    sk = NumericSketch(quantile_edges(s, psi_bins), quantile_edges(s, ks_bins),
                       np.zeros(0, np.int64), np.zeros(0, np.int64))
    sk.psi_counts = np.zeros(len(sk.psi_edges) + 1, np.int64)
    sk.ks_counts = np.zeros(len(sk.ks_edges) + 1, np.int64)
    return sk.add(v)


def psi(ref: NumericSketch, win: NumericSketch) -> float | None:
    """PSI of the window against the reference on the reference's decile bins (as the drift check)."""
    if ref.count == 0 or win.count == 0:
        return None
    return psi_from_shares(ref.psi_counts / ref.count, win.psi_counts / win.count)


def ks(ref: NumericSketch, win: NumericSketch) -> float | None:
    """KS statistic read off the cumulative counts at the reference percentile edges."""
    if ref.count == 0 or win.count == 0:
        return None
    a = np.cumsum(ref.ks_counts)[:-1] / ref.count
    b = np.cumsum(win.ks_counts)[:-1] / win.count
    return float(np.max(np.abs(a - b))) if len(a) else 0.0


@dataclass
class CategoricalSketch:
    """Counts per category (values normalised to strings); mergeable by addition."""

    counts: dict[str, int] = field(default_factory=dict)
    missing: int = 0

    @property
    def count(self) -> int:
        """Non-missing values counted."""
        return sum(self.counts.values())

    def add(self, values: np.ndarray) -> CategoricalSketch:
        """Count ``values`` (None/NaN count as missing); returns self."""
        import pandas as pd

        codes, uniques = pd.factorize(np.asarray(values), use_na_sentinel=True)
        present = codes >= 0
        self.missing += int(len(codes) - present.sum())
        counts = np.bincount(codes[present], minlength=len(uniques))
        for u, c in zip(uniques.tolist() if hasattr(uniques, "tolist") else list(uniques), counts.tolist(),
                        strict=True):
            k = category_key(u)
            self.counts[k] = self.counts.get(k, 0) + int(c)
        return self

    def merge(self, other: CategoricalSketch) -> CategoricalSketch:
        """The sum of two sketches (a new object)."""
        out = CategoricalSketch(dict(self.counts), self.missing + other.missing)
        for k, c in other.counts.items():
            out.counts[k] = out.counts.get(k, 0) + c
        return out

    def to_data(self) -> dict[str, Any]:
        """JSON form."""
        return {"counts": dict(sorted(self.counts.items())), "missing": self.missing}

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> CategoricalSketch:
        """Inverse of :meth:`to_data`."""
        return cls({str(k): int(v) for k, v in d["counts"].items()}, int(d["missing"]))


def category_key(value: Any) -> str:
    """The canonical string of a category: ``1``, ``1.0`` and ``"1"`` are the same category."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value)


def row_keys(values: np.ndarray) -> np.ndarray:
    """The canonical key of every value (object array; ``None`` where missing).

    Factorises first (``pandas.factorize``), so :func:`category_key` runs once per distinct
    value, not once per row.
    """
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(values), use_na_sentinel=True)
    table = np.array([category_key(u) for u in uniques] + [None], dtype=object)
    return table[codes]  # code -1 (missing) picks the trailing None


def category_keys(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Canonical keys of the non-missing values, and the number of missing ones."""
    keys = row_keys(values)
    present = keys != None  # noqa: E711 - elementwise on an object array
    return keys[present].astype(str), int(len(keys) - present.sum())


def js_and_psi(ref: CategoricalSketch, win: CategoricalSketch) -> tuple[float | None, float | None]:
    """Jensen-Shannon distance (base 2) and PSI over the union of categories, as the drift check."""
    from scipy.spatial.distance import jensenshannon

    if ref.count == 0 or win.count == 0:
        return None, None
    cats = sorted(set(ref.counts) | set(win.counts))
    rc = np.array([ref.counts.get(c, 0) for c in cats], dtype=float)
    wc = np.array([win.counts.get(c, 0) for c in cats], dtype=float)
    pr, pw = rc / rc.sum(), wc / wc.sum()
    return float(jensenshannon(pr, pw, base=2)), psi_from_shares(pr, pw)

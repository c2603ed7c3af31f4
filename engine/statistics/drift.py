"""Fast two-sample drift statistics over many numeric columns, equal to ``scipy.stats``.

Foundation (see :mod:`engine.statistics`: the drift check and monitoring share it), pure numerics.
Each reference column is sorted once (and cached on disk keyed by the data file's sha256, so later
checks and runs reuse it); each evaluation column is sorted once; the two sorted samples are merged
with two ``searchsorted`` calls, and from that single merge come the KS statistic (as
``scipy.stats.ks_2samp``), its asymptotic p-value (``kstwo.sf(d, round(n1*n2/(n1+n2)))``, as
``ks_2samp(method="asymp")``; below 1e-12, where scipy's exact tail is slow, the limiting
distribution, within 1e-12 of it), the Wasserstein-1 distance (as
``scipy.stats.wasserstein_distance``) and PSI on reference-quantile bins. Columns run in threads
(numpy releases the GIL). This module never reads files other than its cache, and trusts none of it
blindly.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PSI_BINS = 10
PSI_EPS = 1e-4
TINY_P = 1e-12


@dataclass
class NumericDrift:
    """Per-column statistics of one numeric feature."""

    ks: float
    p_value: float
    wasserstein: float
    psi: float
    n_ref: int
    n_eval: int
    ref_std: float


def sort_finite(values: np.ndarray) -> np.ndarray:
    """The non-NaN values, sorted ascending (NaNs sort last, so they are cut off the end)."""
    s = np.sort(np.asarray(values, dtype=np.float64))
    n = len(s) - int(np.isnan(s[-len(s):]).sum()) if len(s) else 0
    return s[:n]


CACHE_FORMAT = "govops/sorted-column/v2"


def _cache_file(cache_dir: Path, digest: str, column: str) -> Path:
    """``<cache>/sorted/<data sha256>/<sha256 of format and column>.npz``: keyed by everything the entry holds."""
    tag = hashlib.sha256(f"{CACHE_FORMAT}\0{column}".encode()).hexdigest()[:32]
    return cache_dir / "sorted" / digest / f"{tag}.npz"


def _read_cached(path: Path, digest: str, column: str, values: np.ndarray | None) -> np.ndarray | None:
    """The cached sorted column if the entry names this data digest and column and fits ``values``; else None.

    Checked on read: the entry's own record of source digest, column and format, a 1-D float
    array in ascending order, and (when the column is at hand) as many values as the column
    has non-NaN ones with the same minimum and maximum. Never unpickles (``allow_pickle=False``).
    """
    try:
        with np.load(path, allow_pickle=False) as entry:
            meta = (str(entry["format"]), str(entry["source"]), str(entry["column"]))
            s = np.asarray(entry["sorted"])
    except (OSError, ValueError, KeyError, EOFError):
        return None  # missing, damaged or foreign: rebuilt
    if meta != (CACHE_FORMAT, digest, column) or s.ndim != 1 or s.dtype != np.float64:
        return None
    if len(s) and (np.isnan(s).any() or bool(np.any(s[1:] < s[:-1]))):
        return None
    if values is not None:
        v = np.asarray(values, dtype=np.float64)
        finite = v[~np.isnan(v)]
        if len(finite) != len(s) or (len(s) and (finite.min() != s[0] or finite.max() != s[-1])):
            return None
    return s


def _write_cached(path: Path, digest: str, column: str, s: np.ndarray) -> None:
    """Write one entry atomically (best effort: an unwritable cache only costs a sort next time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
        np.savez(tmp, sorted=s, format=np.array(CACHE_FORMAT), source=np.array(digest), column=np.array(column))
        tmp.replace(path)
    except OSError:
        pass


def sorted_reference(
    columns: dict[str, np.ndarray] | None,
    names: list[str],
    *,
    digest: str | None = None,
    cache_dir: Path | None = None,
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Each reference column sorted (NaNs dropped), read from or written to the cache when a digest is given.

    ``columns`` may be ``None`` when everything is cached; a cache miss then is an error.
    A cached column is read whole (a sequential read beats page faults in ``searchsorted``)
    and checked against its own record and the column (``_read_cached``); the cache lives
    outside the checkout (``engine.spec.settings.cache_root``), so no pull request can commit one.
    """
    out: dict[str, np.ndarray] = {}
    todo: list[str] = []
    for name in names:
        if cache_dir and digest:
            found = _read_cached(_cache_file(cache_dir, digest, name), digest, name,
                                 columns[name] if columns is not None else None)
            if found is not None:
                out[name] = found
                continue
        todo.append(name)
    if todo and columns is None:
        raise KeyError(f"columns not cached: {', '.join(todo)}")

    def work(name: str) -> tuple[str, np.ndarray]:
        assert columns is not None
        s = sort_finite(columns[name])
        if cache_dir and digest:
            _write_cached(_cache_file(cache_dir, digest, name), digest, name, s)
        return name, s

    with ThreadPoolExecutor(max_workers=_threads(threads, len(todo))) as pool:
        out.update(pool.map(work, todo))
    return out


def _threads(threads: int | None, n: int) -> int:
    return max(1, min(threads or os.cpu_count() or 1, n or 1))


def two_sample(r: np.ndarray, e: np.ndarray) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 distance of two sorted, NaN-free samples.

    Merges the samples by rank (one ``searchsorted``, then a scatter), takes the
    empirical CDFs at the last point of every run of equal values, and reads both
    statistics off them: the same quantities scipy computes, in O(n) after the sorts.
    """
    n1, n2 = len(r), len(e)
    n = n1 + n2
    pos_e = np.searchsorted(r, e, side="right")
    pos_e += np.arange(n2)
    is_e = np.zeros(n, dtype=bool)
    is_e[pos_e] = True
    merged = np.empty(n, dtype=np.float64)
    merged[pos_e] = e
    del pos_e
    merged[~is_e] = r  # the reference fills the other slots, in order
    step = merged[1:] != merged[:-1]
    counts = np.arange(1, n + 1, dtype=np.int32 if n < 2**31 else np.int64)
    c2e: np.ndarray = np.cumsum(is_e, dtype=counts.dtype)
    del is_e
    if step.all():  # no ties (the usual case for continuous data): every point ends a run
        x = merged
        c1e = np.subtract(counts, c2e, out=counts).astype(np.float64)
    else:
        ends = np.append(np.flatnonzero(step), n - 1)
        c2e = c2e[ends]
        x = merged[ends]
        c1e = (ends + 1 - c2e).astype(np.float64)
        del ends
    del step, merged, counts
    diff = np.divide(c1e, float(n1), out=c1e)
    diff -= np.divide(c2e.astype(np.float64), float(n2))
    del c2e
    ks = float(max(np.max(diff), np.clip(-np.min(diff), 0, 1)))
    w = float(np.dot(np.abs(diff[:-1]), np.diff(x))) if len(x) > 1 else 0.0
    return ks, w


def ks_p_value(d: np.ndarray, n1: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """Asymptotic two-sided p-values, exactly as ``ks_2samp(method="asymp")``."""
    from scipy.stats import kstwo, kstwobign

    d = np.asarray(d, dtype=float)
    m = np.maximum(n1, n2).astype(float)
    k = np.minimum(n1, n2).astype(float)
    n = np.round(m * k / (m + k))
    # Massart's bound: kstwo.sf(d, n) <= 2 exp(-2 n d^2). Where that bound is below
    # TINY_P both scipy's exact value and the limiting distribution's lie in [0, TINY_P],
    # so the (fast) limiting value is within TINY_P of scipy; elsewhere call kstwo itself,
    # whose exact computation takes ~0.7 s per value in the far tail for large n.
    tiny = 2 * np.exp(-2 * n * d * d) < TINY_P
    out = np.empty_like(d)
    if tiny.any():
        out[tiny] = kstwobign.sf(np.sqrt(n[tiny]) * d[tiny])
    if (~tiny).any():
        out[~tiny] = kstwo.sf(d[~tiny], n[~tiny])
    return np.clip(out, 0, 1)


def psi_sorted(r: np.ndarray, e: np.ndarray, bins: int = PSI_BINS) -> float:
    """PSI over bins cut at the reference's quantiles (right-closed; ties collapse bins)."""
    edges = quantile_edges(r, bins)
    pr = _bin_shares(r, edges)
    pe = _bin_shares(e, edges)
    return psi_from_shares(pr, pe)


def quantile_edges(r: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Inner bin edges: the reference values at ranks ``n*i/bins`` (unique)."""
    n = len(r)
    idx = np.minimum((np.arange(1, bins) * n) // bins, n - 1)
    return np.unique(np.asarray(r[idx], dtype=np.float64))


def _bin_shares(s: np.ndarray, edges: np.ndarray) -> np.ndarray:
    cum = np.searchsorted(s, edges, side="right")
    counts = np.diff(np.concatenate([[0], cum, [len(s)]]))
    return counts / max(len(s), 1)


def psi_from_shares(pr: np.ndarray, pe: np.ndarray, eps: float = PSI_EPS) -> float:
    """``sum((pe - pr) * ln(pe / pr))`` with shares floored at ``eps`` (empty bins stay finite)."""
    a = np.maximum(pr, eps)
    b = np.maximum(pe, eps)
    return float(np.sum((b - a) * np.log(b / a)))


def numeric_drift(
    ref_sorted: dict[str, np.ndarray],
    evaluation: dict[str, np.ndarray],
    *,
    threads: int | None = None,
    bins: int = PSI_BINS,
) -> dict[str, NumericDrift]:
    """Drift statistics for every column of ``evaluation`` (raw values) against its sorted reference."""
    names = list(evaluation)

    def work(name: str) -> tuple[str, NumericDrift | None]:
        r = ref_sorted[name]
        e = sort_finite(evaluation[name])
        if len(r) == 0 or len(e) == 0:
            return name, None
        ks, w = two_sample(r, e)
        return name, NumericDrift(
            ks=ks, p_value=float("nan"), wasserstein=w, psi=psi_sorted(r, e, bins),
            n_ref=len(r), n_eval=len(e), ref_std=float(np.std(r)),
        )

    with ThreadPoolExecutor(max_workers=_threads(threads, len(names))) as pool:
        done = dict(pool.map(work, names))
    ok = [n for n in names if done[n] is not None]
    if ok:
        d = np.array([done[n].ks for n in ok])  # type: ignore[union-attr]
        p = ks_p_value(d, np.array([done[n].n_ref for n in ok]), np.array([done[n].n_eval for n in ok]))  # type: ignore[union-attr]
        for name, pv in zip(ok, p, strict=True):
            done[name].p_value = float(pv)  # type: ignore[union-attr]
    return {n: v for n, v in done.items() if v is not None}

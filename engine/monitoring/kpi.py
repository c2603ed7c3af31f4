"""Business KPIs: a tiny, safe expression language over logged fields (monitoring stage).

A KPI expression such as ``mean(prediction == 1)`` or ``rate(in.age > 65 and prediction == 1)``
is parsed with :mod:`ast` and evaluated by walking a whitelist of node types over numpy
columns; nothing is ever passed to ``eval``/``exec``/``compile``. Allowed: column names
(``prediction``, ``proba``, ``latency_ms``, ``status``, ``route``, ``version``, ``in.<feature>``,
``out.<output>``), numbers, strings, ``True``/``False``, ``+ - * / %``, unary ``-``/``not``,
comparisons (``== != < <= > >=``, ``in``/``not in`` a literal list), ``and``/``or``, and the
aggregates ``mean``, ``sum``, ``count``, ``rate``, ``min``, ``max``, ``quantile(x, q)``. The
result must be a number: columns must be reduced by an aggregate. The language itself (what
parses, and its bounds) lives in :mod:`engine.spec.kpi_syntax`, which ``lint`` uses too.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.spec.errors import KpiError
from engine.spec.kpi_syntax import AGGREGATES, _column_name, columns_used, parse
from engine.statistics.sketch import category_key, row_keys

__all__ = ["AGGREGATES", "KpiError", "columns_used", "evaluate", "parse"]


Value = Any  # float | np.ndarray


def evaluate(expression: str, column: Callable[[str], np.ndarray], rows: int) -> float | None:
    """The expression's value over the window (``None`` when undefined, e.g. a mean over no rows)."""
    tree = parse(expression)
    with np.errstate(all="ignore"):
        out = _Eval(column, rows).visit(tree.body)
    if isinstance(out, np.ndarray):
        raise KpiError("the expression gives one value per row; reduce it with mean(), sum(), rate(), count(), …")
    if isinstance(out, str):
        raise KpiError("the expression must give a number, not a string")
    value = float(out)
    return value if math.isfinite(value) else None


class _Eval:
    def __init__(self, column: Callable[[str], np.ndarray], rows: int) -> None:
        self.column = column
        self.rows = rows

    def visit(self, node: ast.AST) -> Value:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            name = _column_name(node.id)
            if name in ("True", "False"):
                return name == "True"
            try:
                return self.column(name)
            except KeyError:
                raise KpiError(f"unknown column '{name}' (not in the prediction log)", node.col_offset) from None
        if isinstance(node, ast.UnaryOp):
            v = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return ~_bool(v) if isinstance(v, np.ndarray) else not v
            return -_num(v) if isinstance(node.op, ast.USub) else _num(v)
        if isinstance(node, ast.BinOp):
            a, b = _num(self.visit(node.left)), _num(self.visit(node.right))
            ops: dict[type, Callable[[Any, Any], Any]] = {
                ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
                ast.Div: lambda x, y: np.divide(np.asarray(x, float), y),
                ast.Mod: lambda x, y: np.mod(np.asarray(x, float), y),
            }
            return ops[type(node.op)](a, b)
        if isinstance(node, ast.BoolOp):
            vals = [_bool(self.visit(v)) for v in node.values]
            joined = vals[0]
            for v in vals[1:]:
                joined = np.logical_and(joined, v) if isinstance(node.op, ast.And) else np.logical_or(joined, v)
            return joined
        if isinstance(node, ast.Compare):
            left = self.visit(node.left)
            acc: Value = True
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self.visit(right_node)
                acc = np.logical_and(acc, _compare(op, left, right))
                left = right
            return acc
        if isinstance(node, ast.Tuple | ast.List):
            return [e.value for e in node.elts if isinstance(e, ast.Constant)]
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            return self._call(node.func.id, [self.visit(a) for a in node.args], node.col_offset)
        raise KpiError(f"'{type(node).__name__}' is not allowed", getattr(node, "col_offset", None))

    def _call(self, fn: str, args: list[Value], col: int) -> float:
        want = {"count": (0, 1), "quantile": (2, 2)}.get(fn, (1, 1))
        if not want[0] <= len(args) <= want[1]:
            raise KpiError(f"{fn}() takes {want[0] if want[0] == want[1] else f'{want[0]}-{want[1]}'} argument(s)",
                           col)
        if fn == "count":
            if not args:
                return float(self.rows)
            return float(np.sum(_bool(_rows(args[0], self.rows))))
        x = _rows(args[0], self.rows)
        if fn == "rate":
            return float(np.mean(_bool(x))) if len(x) else math.nan
        xs = _num(x).astype(float)
        xs = xs[~np.isnan(xs)]
        if fn == "quantile":
            q = float(_num(args[1]))
            if not 0 <= q <= 1:
                raise KpiError("quantile(x, q) needs 0 <= q <= 1", col)
            return float(np.quantile(xs, q)) if len(xs) else math.nan
        if len(xs) == 0:
            return math.nan if fn != "sum" else 0.0
        reducers: dict[str, Callable[[np.ndarray], Any]] = {"mean": np.mean, "sum": np.sum, "min": np.min,
                                                             "max": np.max}
        return float(reducers[fn](xs))


def _rows(v: Value, rows: int) -> np.ndarray:
    return v if isinstance(v, np.ndarray) else np.full(rows, v)


def _num(v: Value) -> Any:
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "O":
            try:
                return np.array([math.nan if x is None else float(x) for x in v], dtype=float)
            except (TypeError, ValueError):
                raise KpiError("arithmetic on a text column") from None
        return v.astype(float) if v.dtype.kind == "b" else v
    if isinstance(v, str):
        raise KpiError(f"arithmetic on the string {v!r}")
    return v


def _bool(v: Value) -> Any:
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "f":
            return np.nan_to_num(v) != 0
        if v.dtype.kind == "O":
            return np.array([bool(x) for x in v], dtype=bool)
        return v.astype(bool)
    return bool(v)


def _keys(v: Value) -> Any:
    if isinstance(v, np.ndarray):
        return row_keys(v)
    return category_key(v)


def _compare(op: ast.cmpop, a: Value, b: Value) -> Any:
    if isinstance(op, ast.In | ast.NotIn):
        if not isinstance(b, list):
            raise KpiError("'in' needs a literal list, e.g. prediction in (1, 2)")
        ka = _keys(a)
        allowed = {category_key(x) for x in b}
        hit = np.isin(ka, list(allowed)) if isinstance(ka, np.ndarray) else ka in allowed
        return ~hit if isinstance(op, ast.NotIn) else hit
    text = any(isinstance(x, str) or (isinstance(x, np.ndarray) and x.dtype.kind == "O") for x in (a, b))
    if isinstance(op, ast.Eq | ast.NotEq):
        if text:
            ka, kb = _keys(a), _keys(b)
            eq = np.equal(ka, kb) if isinstance(ka, np.ndarray) or isinstance(kb, np.ndarray) else ka == kb
            eq = np.asarray(eq, dtype=bool) if isinstance(eq, np.ndarray) else eq
        else:
            eq = np.equal(a, b)
        return ~eq if isinstance(op, ast.NotEq) and isinstance(eq, np.ndarray) else (
            (not eq) if isinstance(op, ast.NotEq) else eq)
    x, y = _num(a), _num(b)
    fn = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal}[type(op)]
    return fn(x, y)

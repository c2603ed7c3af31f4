"""The KPI expression language: what parses, and its bounds (spec stage; used by lint and monitoring).

A KPI expression such as ``mean(prediction == 1)`` is parsed with :mod:`ast` and checked
against a whitelist of node types; nothing here evaluates anything (``engine.monitoring.kpi``
does, by walking the checked tree over numpy columns, never through ``eval``). Because
``lint`` calls the same :func:`parse` that monitoring calls, an expression that monitoring
would refuse is refused in the pull request, at the expression's ``file:line``. Bounds: no
``**`` (an exponent tower such as ``9**9**9`` never finishes), numbers finite and within
2**53, at most ``MAX_DEPTH`` levels of nesting and ``MAX_NODES`` nodes (the spec caps the
text at 500 characters), so evaluation is small and never recurses deeply.
"""

from __future__ import annotations

import ast
import io
import math
import tokenize

from engine.spec.errors import KpiError

PREFIXES = ("in", "out")
MANGLE = "__col_{}__{}"
AGGREGATES = ("mean", "sum", "count", "rate", "min", "max", "quantile")




def _rewrite(expression: str) -> str:
    """``in.age`` -> ``__col_in__age`` (``in`` is a Python keyword), via the tokenizer so strings are untouched."""
    text = " ".join(expression.splitlines()).strip()
    try:
        toks = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)]
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise KpiError(f"cannot read the expression: {exc}") from exc
    spans: list[tuple[int, int, str]] = []
    for i in range(len(toks) - 2):
        t, dot, name = toks[i], toks[i + 1], toks[i + 2]
        if (t.type == tokenize.NAME and t.string in PREFIXES and dot.string == "." and name.type == tokenize.NAME
                and dot.start == t.end and name.start == dot.end):
            spans.append((t.start[1], name.end[1], MANGLE.format(t.string, name.string)))
    for start, end, repl in reversed(spans):
        text = text[:start] + repl + text[end:]
    return text


def _column_name(ident: str) -> str:
    for p in PREFIXES:
        head = MANGLE.format(p, "")
        if ident.startswith(head):
            return f"{p}.{ident[len(head):]}"
    return ident


MAX_DEPTH = 32
MAX_NODES = 400
MAX_NUMBER = 2**53


def parse(expression: str) -> ast.Expression:
    """Parse and check an expression against the whitelist and the bounds; raises :class:`KpiError`."""
    try:
        tree = ast.parse(_rewrite(expression), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise KpiError(f"not a valid expression: {getattr(exc, 'msg', None) or exc}",
                       getattr(exc, "offset", None)) from None
    count = 0
    todo: list[tuple[ast.AST, int]] = [(tree, 0)]
    while todo:
        node, depth = todo.pop()
        count += 1
        if count > MAX_NODES:
            raise KpiError(f"the expression has more than {MAX_NODES} parts; split it into several KPIs")
        if depth > MAX_DEPTH:
            raise KpiError(f"the expression nests deeper than {MAX_DEPTH} levels", getattr(node, "col_offset", None))
        _check_node(node)
        todo.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree


_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call, ast.Name, ast.Constant,
            ast.Load, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or,
            ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Tuple, ast.List)


def _check_node(node: ast.AST) -> None:
    col = getattr(node, "col_offset", None)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        raise KpiError("'Pow' is not allowed in a KPI expression ('**': an exponent can make a number "
                       "too large to compute)", col)
    if not isinstance(node, _ALLOWED):
        raise KpiError(f"'{type(node).__name__}' is not allowed in a KPI expression", col)
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise KpiError(f"only the functions {', '.join(AGGREGATES)} may be called", col)
        if node.func.id not in AGGREGATES:
            raise KpiError(f"unknown function '{node.func.id}'; allowed: {', '.join(AGGREGATES)}", col)
        if node.keywords:
            raise KpiError("keyword arguments are not allowed", col)
    if isinstance(node, ast.Constant) and not isinstance(node.value, int | float | str | bool):
        raise KpiError(f"constant {node.value!r} is not allowed", col)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        if not math.isfinite(node.value) or abs(node.value) > MAX_NUMBER:
            raise KpiError(f"the number {_short(node.value)} is out of range (finite, at most 2**53 in size)", col)
    if isinstance(node, ast.Tuple | ast.List) and not all(isinstance(e, ast.Constant) for e in node.elts):
        raise KpiError("lists may hold constants only", col)


def columns_used(expression: str) -> list[str]:
    """The log columns an expression reads (function names excluded)."""
    tree = parse(expression)
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return sorted({_column_name(n.id) for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in funcs})




def _short(value: float) -> str:
    text = repr(value) if isinstance(value, float) else str(value) if value.bit_length() < 200 else "(huge)"
    return text if len(text) <= 40 else text[:37] + "..."

"""The KPI expression language: values over columns, and refusal of everything outside the whitelist."""

from __future__ import annotations

import numpy as np
import pytest

from engine.monitoring.kpi import columns_used, evaluate
from engine.spec.errors import KpiError

COLS = {
    "prediction": np.array([1.0, 0.0, 1.0, 1.0]),
    "in.age": np.array([70.0, 30.0, 80.0, np.nan]),
    "out.label": np.array(["approve", "deny", "approve", "approve"], dtype=object),
    "status": np.array(["ok", "error", "ok", "ok"], dtype=object),
}


def ev(expr: str) -> float | None:
    return evaluate(expr, lambda n: COLS[n], 4)


@pytest.mark.parametrize(("expr", "value"), [
    ("mean(prediction == 1)", 0.75),
    ("rate(in.age > 65 and prediction == 1)", 0.5),
    ("count(status == 'error') / count()", 0.25),
    ("quantile(in.age, 0.5)", 70.0),
    ("mean(in.age)", 60.0),
    ("sum(in.age) / count()", 45.0),
    ("max(in.age) - min(in.age)", 50.0),
    ("mean(prediction in (1, 2))", 0.75),
    ("mean(prediction not in [1])", 0.25),
    ("rate(out.label == 'approve')", 0.75),
    ("rate(not (prediction == 1))", 0.25),
    ("rate(0 < in.age < 75)", 0.5),
    ("mean(prediction == '1')", 0.75),
    ("-mean(prediction) * 2 + 1 % 1", -1.5),
])
def test_values(expr: str, value: float) -> None:
    assert ev(expr) == pytest.approx(value)


def test_undefined_values_are_none() -> None:
    assert evaluate("mean(prediction) / 0", lambda n: COLS[n], 4) is None
    assert evaluate("mean(prediction)", lambda n: COLS[n][:0], 0) is None


@pytest.mark.parametrize(("expr", "message"), [
    ("__import__('os').system('true')", "only the functions"),
    ("__import__('os')", "unknown function '__import__'"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("prediction.__class__", "'Attribute' is not allowed"),
    ("[x for x in prediction]", "'ListComp' is not allowed"),
    ("(lambda: 1)()", "only the functions"),
    ("2 ** 100000", "'Pow' is not allowed"),
    ("COLS['x']", "'Subscript' is not allowed"),
    ("mean(prediction", "cannot read the expression"),
    ("prediction == 1", "one value per row"),
    ("mean(x)", "unknown column 'x'"),
    ("mean(prediction, 2)", "takes 1 argument"),
    ("quantile(in.age, 2)", "0 <= q <= 1"),
    ("mean(prediction in prediction)", "literal list"),
    ("mean(x=1)", "keyword arguments"),
    ("'text'", "not a string"),
])
def test_refused(expr: str, message: str) -> None:
    with pytest.raises(KpiError, match=message.replace("(", r"\(").replace("*", r"\*")):
        ev(expr)


def test_in_dot_is_rewritten_outside_strings_only() -> None:
    assert columns_used("rate(in.age > 1 and out.label == 'in.age')") == ["in.age", "out.label"]
    assert ev("rate(out.label == 'in.age')") == 0.0

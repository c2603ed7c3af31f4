"""The check interface: a small base class, a context, and a registry of checks by name.

Validation stage. Like MLServer's ``MLModel``, a check is a class with one method
(``run``), registered under its catalog name (``drift``, ``bias``, ...) with its typed
thresholds; ``python -m runners NAME`` and the local executor find it here. A check
reads only through its :class:`CheckContext` (so every input is digest-verified and
recorded) and never writes anything: it returns metrics and a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd

from engine.spec.catalog_of_checks import CHECK_THRESHOLDS, THRESHOLD_CLASSES, Thresholds
from engine.spec.check_result import Metric
from engine.spec.errors import CheckError
from engine.spec.model import Feature, ModelSpec, Version
from runners.data import DataLoader, feature_matrix, label_vector

CATEGORICAL_TYPES = ("category", "string", "boolean")


def is_categorical(feature: Feature) -> bool:
    """Categorical for drift and quality: category/string/boolean, or integer with declared categories."""
    return feature.type in CATEGORICAL_TYPES or (feature.type == "integer" and feature.categories is not None)


@dataclass
class Outcome:
    """What a check's ``run`` returns: metrics, a sentence, free-form details."""

    metrics: list[Metric]
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckContext:
    """Everything a check may read: the spec, the versions, verified data and models."""

    root: Path
    spec: ModelSpec
    version: str
    champion_version: str | None
    thresholds: Thresholds
    loader: DataLoader
    cache_dir: Path | None  # None: no cache (never one inside the checkout)
    options: dict[str, Any] = field(default_factory=dict)

    # --- the spec -----------------------------------------------------------------
    @property
    def task(self) -> str:
        """``classification`` or ``regression``."""
        return self.spec.spec.task

    @property
    def label(self) -> str:
        """The label column."""
        return self.validation().label

    def validation(self) -> Any:
        """The spec's ``validation`` block (an error if absent: the checks need data)."""
        if self.spec.spec.validation is None:
            raise CheckError(f"{self.spec.id} declares no validation data (spec.validation is missing)")
        return self.spec.spec.validation

    def inputs(self) -> list[Feature]:
        """Every declared input feature (model inputs and kept-aside columns)."""
        return list(self.spec.spec.interface.inputs)

    def model_inputs(self) -> list[str]:
        """Columns fed to the model, in order."""
        return self.spec.model_inputs()

    def _version(self, version_id: str) -> Version:
        v = self.spec.version(version_id)
        if v is None:
            known = ", ".join(x.id for x in self.spec.spec.versions)
            raise CheckError(f"{self.spec.id} has no version '{version_id}' (declared: {known})")
        return v

    # --- data and models --------------------------------------------------------------
    def reference(self) -> pd.DataFrame:
        """The reference (training) table, verified."""
        return self.loader.table(self.validation().reference_data, "reference_data")

    def evaluation(self) -> pd.DataFrame:
        """The evaluation (held-out) table, verified."""
        return self.loader.table(self.validation().evaluation_data, "evaluation_data")

    def candidate(self) -> Any:
        """The candidate model, in a sandboxed prediction worker once its digest matched.

        A :class:`runners.model_worker.RemoteModel`: the artifact is never loaded in this process.
        """
        v = self._version(self.version)
        return self.loader.model(v.artifact, "candidate_model", v.runtime)

    def champion(self) -> Any | None:
        """The champion model (``None`` when there is none to compare with)."""
        if self.champion_version is None:
            return None
        v = self._version(self.champion_version)
        return self.loader.model(v.artifact, "champion_model", v.runtime)

    def required_champion(self, check: str) -> Any:
        """The champion model for a check that compares with it; an error result when there is none."""
        model = self.champion()
        if model is None:
            raise CheckError(
                f"the {check} check compares {self.version} with the serving champion, but none was given "
                "(the candidate is the champion, or --champion is missing)"
            )
        return model

    def x(self, frame: pd.DataFrame, where: str) -> np.ndarray:
        """The model's input matrix from a table."""
        return feature_matrix(frame, self.model_inputs(), where)

    def y(self, frame: pd.DataFrame, where: str) -> np.ndarray:
        """The label vector of a table."""
        return label_vector(frame, self.label, where)

    def predict(self, model: Any, x: np.ndarray, who: str = "candidate") -> np.ndarray:
        """``model.predict`` with failures reported as check errors."""
        return _call(model, "predict", x, who, self)

    def predict_proba(self, model: Any, x: np.ndarray, who: str = "candidate") -> np.ndarray | None:
        """``model.predict_proba`` when the model has it (``None`` otherwise)."""
        if self.task != "classification" or not hasattr(model, "predict_proba"):
            return None
        return _call(model, "predict_proba", x, who, self)


def _call(model: Any, method: str, x: np.ndarray, who: str, ctx: CheckContext) -> np.ndarray:
    version = ctx.version if who == "candidate" else ctx.champion_version
    try:
        out = np.asarray(getattr(model, method)(x))
    except Exception as exc:  # a user's model may raise anything
        raise CheckError(f"the {who} model ({version}) raised on {method}: {type(exc).__name__}: {exc}") from exc
    if len(out) != len(x):
        raise CheckError(f"the {who} model ({version}) returned {len(out)} predictions for {len(x)} rows")
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        raise CheckError(f"the {who} model ({version}) returned non-finite values from {method}")
    return out


class Check:
    """Base of every check: a catalog name, a thresholds type, and ``run``."""

    name: ClassVar[str] = ""
    thresholds_type: ClassVar[type[Thresholds]] = Thresholds

    def run(self, ctx: CheckContext) -> Outcome:
        """Measure, judge against ``ctx.thresholds``, and say what was found."""
        raise NotImplementedError


REGISTRY: dict[str, type[Check]] = {}
C = TypeVar("C", bound=type[Check])


def register(cls: C) -> C:
    """Class decorator: register a check under its name (which must be in the catalog)."""
    if cls.name not in CHECK_THRESHOLDS and not cls.name.startswith("test_"):
        raise ValueError(f"check '{cls.name}' is not in engine.spec.catalog_of_checks.CHECK_THRESHOLDS")
    if not cls.name.startswith("test_"):
        cls.thresholds_type = THRESHOLD_CLASSES[cls.name]
    REGISTRY[cls.name] = cls
    return cls


def get(name: str) -> type[Check]:
    """The check registered under ``name``."""
    import runners.checks  # noqa: F401  (registers the built-in checks)

    if name not in REGISTRY:
        raise CheckError(f"unknown check '{name}'; known: {', '.join(sorted(names()))}")
    return REGISTRY[name]


def names() -> list[str]:
    """Every registered check name."""
    import runners.checks  # noqa: F401

    return sorted(REGISTRY)


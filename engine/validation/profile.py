"""Reference profiles: one small, mergeable summary of a model version's reference data.

Validation stage (computed once per model version, when the version is validated) and
read by the monitoring stage. A profile holds, per declared input, a
:class:`~engine.statistics.sketch.NumericSketch` (decile and percentile edges with counts,
moments, exact median and MAD) or a :class:`~engine.statistics.sketch.CategoricalSketch`,
and the same for the version's predictions on the reference (``prediction``, and
``proba`` for binary classifiers). Stored as JSON under
``<cache dir>/profiles/<tenant>--<name>/<version>/<digest>.json`` (outside the checkout, keyed
by the sha256 of the model and reference data it was built from) and beside validation results.
Monitoring never rereads the training data once a profile exists; this module never
writes anywhere but those two places.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.spec.errors import InputError
from engine.spec.model import Feature, ModelSpec
from engine.spec.statedir import cache_dir
from engine.statistics.sketch import CategoricalSketch, NumericSketch, numeric_reference

PROFILE_FORMAT = "govops/profile/v1"
PROFILE_KIND = "profiles"
CATEGORICAL_TYPES = ("category", "string", "boolean")
MAD_SCALE = 1.4826  # MAD of a normal sample times this is its standard deviation


def is_categorical(feature: Feature) -> bool:
    """The drift check's rule: category/string/boolean, or integer with declared categories."""
    return feature.type in CATEGORICAL_TYPES or (feature.type == "integer" and feature.categories is not None)


@dataclass
class FeatureProfile:
    """The reference summary of one column."""

    kind: str  # "numeric" | "categorical"
    numeric: NumericSketch | None = None
    categorical: CategoricalSketch | None = None
    median: float | None = None
    mad: float | None = None

    def to_data(self) -> dict[str, Any]:
        """JSON form."""
        d: dict[str, Any] = {"kind": self.kind}
        if self.numeric is not None:
            d.update(sketch=self.numeric.to_data(), median=self.median, mad=self.mad)
        if self.categorical is not None:
            d.update(sketch=self.categorical.to_data())
        return d

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> FeatureProfile:
        """Inverse of :meth:`to_data`."""
        if d["kind"] == "numeric":
            return cls("numeric", numeric=NumericSketch.from_data(d["sketch"]), median=d.get("median"),
                       mad=d.get("mad"))
        return cls("categorical", categorical=CategoricalSketch.from_data(d["sketch"]))


@dataclass
class Profile:
    """The reference profile of one model version."""

    model: str
    version: str
    task: str
    rows: int
    features: dict[str, FeatureProfile]
    prediction: FeatureProfile | None = None
    proba: FeatureProfile | None = None
    inputs: list[dict[str, str]] = field(default_factory=list)  # [{role, uri, sha256}] read to build it
    created: str = ""

    def to_data(self) -> dict[str, Any]:
        """JSON form (``format`` names the schema version)."""
        return {
            "format": PROFILE_FORMAT, "model": self.model, "version": self.version, "task": self.task,
            "rows": self.rows, "created": self.created, "inputs": self.inputs,
            "features": {k: v.to_data() for k, v in self.features.items()},
            "prediction": self.prediction.to_data() if self.prediction else None,
            "proba": self.proba.to_data() if self.proba else None,
        }

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> Profile:
        """Inverse of :meth:`to_data`; refuses other formats."""
        if d.get("format") != PROFILE_FORMAT:
            raise ValueError(f"not a {PROFILE_FORMAT} document (format: {d.get('format')!r})")
        return cls(
            d["model"], d["version"], d["task"], int(d["rows"]),
            {k: FeatureProfile.from_data(v) for k, v in d["features"].items()},
            FeatureProfile.from_data(d["prediction"]) if d.get("prediction") else None,
            FeatureProfile.from_data(d["proba"]) if d.get("proba") else None,
            list(d.get("inputs", [])), d.get("created", ""),
        )


def numeric_profile(values: np.ndarray) -> FeatureProfile:
    """Sketch plus exact median and MAD of one numeric column."""
    v = np.asarray(values, dtype=np.float64)
    finite = v[~np.isnan(v)]
    median = float(np.median(finite)) if len(finite) else None
    mad = float(np.median(np.abs(finite - median))) if median is not None else None
    return FeatureProfile("numeric", numeric=numeric_reference(v), median=median, mad=mad)


def categorical_profile(values: np.ndarray) -> FeatureProfile:
    """Category counts of one column."""
    return FeatureProfile("categorical", categorical=CategoricalSketch().add(np.asarray(values, dtype=object)
                                                                           if np.asarray(values).dtype.kind == "O"
                                                                           else np.asarray(values)))


def build_profile(
    spec: ModelSpec,
    version: str,
    reference_frame: pd.DataFrame,
    *,
    predictions: np.ndarray | None = None,
    proba: np.ndarray | None = None,
    inputs: list[dict[str, str]] | None = None,
) -> Profile:
    """The profile of ``version`` from its reference table (and its predictions on it, when given).

    Every declared input present in the frame is profiled; ``proba`` is the positive-class
    probability column (binary classifiers).
    """
    features: dict[str, FeatureProfile] = {}
    for f in spec.spec.interface.inputs:
        if f.name not in reference_frame.columns:
            continue
        col = reference_frame[f.name].to_numpy()
        if is_categorical(f):
            features[f.name] = categorical_profile(col)
        else:
            features[f.name] = numeric_profile(pd.to_numeric(reference_frame[f.name], errors="coerce").to_numpy(float))
    pred = None
    if predictions is not None:
        p = np.asarray(predictions)
        pred = categorical_profile(p) if spec.spec.task == "classification" else numeric_profile(p.astype(float))
    return Profile(
        model=spec.id, version=version, task=spec.spec.task, rows=len(reference_frame), features=features,
        prediction=pred, proba=numeric_profile(np.asarray(proba, dtype=float)) if proba is not None else None,
        inputs=list(inputs or []), created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def profile_digest(model_id: str, version: str, task: str, inputs: list[dict[str, str]]) -> str:
    """sha256 over what a profile is computed from: model version, task, and the sha256 of each input by role."""
    h = hashlib.sha256(f"{PROFILE_FORMAT}\0{model_id}\0{version}\0{task}".encode())
    for role, sha in sorted((str(i.get("role")), str(i.get("sha256"))) for i in inputs):
        h.update(f"\0{role}={sha}".encode())
    return h.hexdigest()


def profile_path(root: Path, model_id: str, version: str, digest: str) -> Path:
    """``<cache>/profiles/<tenant>--<name>/<version>/<digest>.json``: outside the checkout ``root``."""
    return cache_dir(PROFILE_KIND, root=root) / model_id.replace("/", "--") / version / f"{digest}.json"


def stored_path(root: Path, profile: Profile) -> Path:
    """Where ``profile`` is kept in the cache (keyed by the digests of the inputs it records)."""
    return profile_path(root, profile.model, profile.version,
                        profile_digest(profile.model, profile.version, profile.task, profile.inputs))


def expected_digest(root: Path, spec: ModelSpec, version: str) -> str | None:
    """The digest the profile of ``version`` has: from the spec's pinned sha256, hashing a file only where unpinned.

    None when there is nothing to profile or an unpinned file cannot be read (then the profile is
    computed, and that reports the problem).
    """
    from engine.spec.errors import CheckError
    from runners.data import read_bytes

    v = spec.version(version)
    if v is None or spec.spec.validation is None:
        return None
    inputs = []
    for role, ref in (("model", v.artifact), ("reference_data", spec.spec.validation.reference_data)):
        sha = ref.sha256
        if sha is None:
            try:
                sha = hashlib.sha256(read_bytes(ref.uri, root)).hexdigest()
            except CheckError:
                return None
        inputs.append({"role": role, "sha256": sha})
    return profile_digest(spec.id, version, spec.spec.task, inputs)


def find_profile(root: Path, spec: ModelSpec, version: str) -> Profile | None:
    """The cached profile of this exact version and data, or None (a missing, damaged or foreign entry is a miss).

    Checked on read: the entry's own model, version and recorded input digests must give the key it
    was found under.
    """
    digest = expected_digest(root, spec, version)
    if digest is None:
        return None
    try:
        found = load_profile(profile_path(root, spec.id, version, digest))
    except InputError:
        return None
    if found is None or (found.model, found.version) != (spec.id, version):
        return None
    if profile_digest(found.model, found.version, found.task, found.inputs) != digest:
        return None
    return found


def save_profile(profile: Profile, path: Path) -> Path:
    """Write a profile atomically (write then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(profile.to_data(), separators=(",", ":")))
    tmp.replace(path)
    return path


def load_profile(path: Path) -> Profile | None:
    """The profile stored at ``path`` (``None`` if there is none); a damaged file is an input error."""
    if not path.exists():
        return None
    try:
        return Profile.from_data(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"damaged reference profile ({exc}); delete it to have it rebuilt", file=str(path)) from exc


def compute_profile(root: Path, spec: ModelSpec, version: str) -> Profile:
    """Read the version's reference data and model (digests verified), predict, and profile.

    The only place monitoring touches reference data: once per version, when no profile exists.
    The model is never loaded here: it lives in a sandboxed prediction worker
    (:class:`runners.model_worker.RemoteModel`), which sends back the predictions only, so
    the process that holds a token (``pr-check``) never runs the artifact's code.
    """
    from engine.spec.errors import CheckError
    from runners.data import DataLoader, feature_matrix
    from runners.model_worker import ModelWorkerError

    if spec.spec.validation is None:
        raise InputError(f"{spec.id} declares no validation.referenceData: no reference profile can be built")
    v = spec.version(version)
    if v is None:
        raise InputError(f"{spec.id} has no version '{version}'")
    loader = DataLoader(root)
    try:
        ref = loader.table(spec.spec.validation.reference_data, "reference_data")
        model = loader.model(v.artifact, "model", v.runtime)
        x = feature_matrix(ref, spec.model_inputs(), "reference data")
        pred = np.asarray(model.predict(x))
        proba = None
        if spec.spec.task == "classification" and hasattr(model, "predict_proba"):
            from engine.statistics.metrics import positive_index

            classes = np.asarray(model.classes_)
            pos = positive_index(classes, spec.spec.validation.positive_class)
            if len(classes) == 2 and pos is not None:
                proba = np.asarray(model.predict_proba(x))[:, pos]
    except CheckError as exc:
        raise InputError(f"cannot build the reference profile of {spec.id} {version}: {exc}") from exc
    except (ModelWorkerError, AttributeError) as exc:  # what the model raised, as its worker reports it
        raise InputError(
            f"cannot build the reference profile of {spec.id} {version}: the model raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    finally:
        loader.close()
    inputs = [{"role": i.role, "uri": i.uri, "sha256": i.sha256} for i in loader.inputs]
    return build_profile(spec, version, ref, predictions=pred, proba=proba, inputs=inputs)


def ensure_profile(root: Path, spec: ModelSpec, version: str) -> Profile:
    """The stored profile of this version, computed and stored first if there is none."""
    found = find_profile(root, spec, version)
    if found is not None:
        return found
    profile = compute_profile(root, spec, version)
    save_profile(profile, stored_path(root, profile))
    return profile


def store_beside_results(root: Path, profile: Profile, out_dir: Path) -> list[Path]:
    """Store a profile in the cache (``stored_path``) and as ``<out_dir>/<tenant>/<name>/profile-<version>.json``.

    This is the hook ``govops validate`` calls after a run, once per validated (model, version).
    """
    tenant, name = profile.model.split("/", 1)
    return [
        save_profile(profile, stored_path(root, profile)),
        save_profile(profile, out_dir / tenant / name / f"profile-{profile.version}.json"),
    ]

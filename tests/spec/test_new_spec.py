"""`govops new`: a lint-clean spec from a trained model and its data, for three real scikit-learn models.

A scaffolded repository (`govops init`) gets a classifier with a categorical input, a regressor and
a pipeline, each trained here on a scikit-learn dataset; `govops new` writes their specs, which
lint, pass the policies (re-check and as a reviewed change) and roll out to a real MLServer unchanged.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import requests
import yaml

from engine.cli import main
from engine.scaffold import init_repo
from engine.spec.errors import InputError
from engine.spec.infer import feature, infer_interface
from engine.spec.published import modeline
from tests.conftest import run_git

SEED = 7


def _split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(SEED).permutation(len(frame))
    cut = int(len(frame) * 0.7)
    return frame.iloc[np.sort(order[:cut])], frame.iloc[np.sort(order[cut:])]


def _diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True, scaled=False).frame  # sex is coded 1/2: a categorical input


def _classifier(frame: pd.DataFrame):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=30, max_depth=5, random_state=SEED)


def _regressor(frame: pd.DataFrame):
    from sklearn.linear_model import Ridge

    return Ridge(alpha=1.0)


def _pipeline(frame: pd.DataFrame):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def _cases() -> dict[str, tuple[pd.DataFrame, str, object]]:
    from sklearn.datasets import load_wine

    diabetes = _diabetes()
    high = diabetes.drop(columns="target").assign(high=(diabetes["target"] > 140).astype(int))
    progression = diabetes.rename(columns={"target": "progression"})
    wine = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    return {
        "progression-high": (high, "high", _classifier),
        "progression-score": (progression, "progression", _regressor),
        "wine-cultivar": (wine, "cultivar", _pipeline),
    }


def _train(root: Path) -> dict[str, dict[str, Path]]:
    """Data (reference/evaluation CSVs) and a joblib artifact per model, inside the repository."""
    out = {}
    for name, (frame, label, make) in _cases().items():
        ref, ev = _split(frame)
        data = root / "artifacts" / "data" / name
        data.mkdir(parents=True)
        ref.to_csv(data / "reference.csv", index=False)
        ev.to_csv(data / "evaluation.csv", index=False)
        est = make(ref).fit(ref.drop(columns=label).to_numpy(dtype=float), ref[label].to_numpy())
        model_dir = root / "artifacts" / "models" / "example" / name / "1.0.0"
        model_dir.mkdir(parents=True)
        joblib.dump(est, model_dir / "model.joblib")
        out[name] = {"artifact": model_dir / "model.joblib", "data": data / "reference.csv",
                     "eval": data / "evaluation.csv", "label": label}
    return out


def _new(root: Path, *args: str) -> int:
    return main(["-C", str(root), "new", *args])


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, dict[str, dict[str, Path]]]:
    """A scaffolded repository on main, then a branch `feature` adding the three specs `govops new` wrote."""
    root = tmp_path_factory.mktemp("new") / "repo"
    init_repo(root)
    run_git(root, "init", "-q", "-b", "main")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "scaffold")
    run_git(root, "checkout", "-q", "-b", "feature")
    files = _train(root)
    for name, f in files.items():
        code = _new(root, f"example/{name}", "--artifact", str(f["artifact"]), "--data", str(f["data"]),
                    "--eval-data", str(f["eval"]), "--label", str(f["label"]),
                    "--description", f"{name} from the scikit-learn datasets")
        assert code == 0
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "three models, specs by govops new")
    return root, files


def _spec(root: Path, name: str) -> dict:
    return yaml.safe_load((root / "specs" / "example" / f"{name}.yaml").read_text())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_the_specs_lint_and_pass_the_policies(repo, capsys):
    root, _ = repo
    capsys.readouterr()
    assert main(["-C", str(root), "lint"]) == 0, capsys.readouterr().out
    assert "4 model(s) checked, 0 error(s), 0 warning(s)" in capsys.readouterr().out
    assert main(["-C", str(root), "check", "--all"]) == 0, capsys.readouterr().out
    capsys.readouterr()
    code = main(["-C", str(root), "check", "--base", "main", "--head", "feature",
                 "--author", "you", "--approved-by", "your.lead"])
    assert code == 0, capsys.readouterr().out


def test_the_interface_types_categories_bounds_and_classes_come_from_the_data(repo):
    root, files = repo
    clf = _spec(root, "progression-high")
    inputs = {f["name"]: f for f in clf["spec"]["interface"]["inputs"]}
    assert inputs["sex"] == {"name": "sex", "type": "category", "categories": [1, 2]}
    ref = pd.read_csv(files["progression-high"]["data"])
    for col in ("age", "bmi", "s5"):
        assert inputs[col]["type"] == "float"
        assert inputs[col]["min"] < ref[col].min() and inputs[col]["max"] > ref[col].max()  # with a margin
        assert inputs[col]["min"] >= 0  # never negative: not widened below 0
    assert clf["spec"]["task"] == "classification"
    assert clf["spec"]["interface"]["outputs"] == [{"name": "high", "type": "integer", "categories": [0, 1]}]
    assert "high" not in inputs

    reg = _spec(root, "progression-score")
    assert reg["spec"]["task"] == "regression"
    (out,) = reg["spec"]["interface"]["outputs"]
    target = pd.read_csv(files["progression-score"]["data"])["progression"]
    assert out["type"] == "float" and out["min"] < target.min() and out["max"] > target.max()

    wine = _spec(root, "wine-cultivar")
    assert len(wine["spec"]["interface"]["inputs"]) == 13
    assert wine["spec"]["interface"]["outputs"][0]["categories"] == [0, 1, 2]


def test_digests_runtime_lineage_and_todos_are_in_place(repo):
    root, files = repo
    for name, f in files.items():
        text = (root / "specs" / "example" / f"{name}.yaml").read_text()
        assert text.startswith(modeline("model") + "\n")
        doc = yaml.safe_load(text)
        (version,) = doc["spec"]["versions"]
        assert version["artifact"] == {"uri": f"artifacts/models/example/{name}/1.0.0/model.joblib",
                                       "sha256": _sha(f["artifact"])}
        assert version["runtime"] == "mlserver_sklearn.SKLearnModel"
        assert version["lineage"]["trainingData"] == {"uri": f"artifacts/data/{name}/reference.csv",
                                                      "sha256": _sha(f["data"])}
        assert "# TODO: code: {repo:" in text  # the training code: only the user knows it
        validation = doc["spec"]["validation"]
        assert validation["evaluationData"]["sha256"] == _sha(f["eval"])
        assert validation["label"] == f["label"]
        assert doc["metadata"] == {"name": name, "tenant": "example", "owners": ["you"],
                                   "description": f"{name} from the scikit-learn datasets"}
        assert doc["spec"]["deployment"] == {"environment": "production", "champion": "1.0.0"}


@pytest.mark.slow
def test_the_tiers_validation_checks_pass_on_the_drafted_interfaces(repo, tmp_path, capsys):
    """Bounds and categories inferred with a margin do not fail data quality on the held-out data."""
    root, files = repo
    models = [arg for name in files for arg in ("--model", f"example/{name}")]
    code = main(["-C", str(root), "validate", *models, "--out", str(tmp_path / "results")])
    assert code == 0, capsys.readouterr().out
    assert "6 passed, 0 failed" in capsys.readouterr().out


@pytest.mark.slow
def test_the_specs_roll_out_unchanged_to_mlserver(repo, capsys, monkeypatch):
    from engine.mlserver.local_serving import ServingPaths
    from engine.rollout.serving import stop_server
    from engine.rollout.targets.local import LocalTarget

    root, files = repo
    run_git(root, "checkout", "-q", "main")
    run_git(root, "merge", "-q", "--ff-only", "feature")
    monkeypatch.setenv("GOVOPS_ROLLOUT_DRAIN_S", "0.2")
    try:
        assert main(["-C", str(root), "rollout"]) == 0, capsys.readouterr().err
        served = {(v["model"], v["version"]): v for v in LocalTarget(root).status()["versions"]}
        for name in files:
            assert served[(f"example/{name}", "1.0.0")]["ready"]
        f = files["progression-high"]
        rows = pd.read_csv(f["eval"]).drop(columns=f["label"]).to_numpy(dtype=float)[:3]
        body = {"inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64",
                            "data": rows.ravel().tolist()}]}
        r = requests.post(served[("example/progression-high", "1.0.0")]["url"] + "/infer", json=body, timeout=10)
        assert r.status_code == 200 and len(r.json()["outputs"][0]["data"]) == 3
    finally:
        stop_server(ServingPaths.for_repo(root))
        run_git(root, "checkout", "-q", "feature")


# --- bad input: a clear message, exit 2, nothing written -----------------------------------------------------


@pytest.fixture
def one(repo, tmp_path) -> tuple[Path, dict[str, Path]]:
    root, files = repo
    return root, files["wine-cultivar"]


def _refused(root: Path, capsys, *args: str) -> str:
    before = sorted(p for p in (root / "specs").rglob("*") if p.is_file())
    capsys.readouterr()
    assert _new(root, *args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert sorted(p for p in (root / "specs").rglob("*") if p.is_file()) == before
    return err


def test_a_missing_artifact_or_data_file_is_refused(one, capsys, tmp_path):
    root, f = one
    err = _refused(root, capsys, "x1", "--artifact", str(tmp_path / "nope.joblib"), "--data", str(f["data"]))
    assert f"{tmp_path / 'nope.joblib'}: error: artifact {tmp_path / 'nope.joblib'} does not exist" in err
    err = _refused(root, capsys, "x1", "--artifact", str(f["artifact"]), "--data", str(tmp_path))
    assert f"error: data {tmp_path} is not a regular file" in err
    (tmp_path / "broken.csv").write_bytes(b"\xff\xfe\x00garbage\x00")
    err = _refused(root, capsys, "x1", "--artifact", str(f["artifact"]), "--data", str(tmp_path / "broken.csv"))
    assert "cannot read" in err and "as a table" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_artifact_is_refused(one, capsys, tmp_path):
    root, f = one
    locked = tmp_path / "locked.joblib"
    locked.write_bytes(b"x")
    locked.chmod(0)
    err = _refused(root, capsys, "x1", "--artifact", str(locked), "--data", str(f["data"]))
    assert f"cannot read artifact {locked}" in err


def test_a_label_not_in_the_data_is_refused_with_a_suggestion(one, capsys):
    root, f = one
    err = _refused(root, capsys, "x1", "--artifact", str(f["artifact"]), "--data", str(f["data"]),
                   "--label", "cultivr")
    assert "label column 'cultivr' is not in" in err and "(did you mean 'cultivar'?)" in err


def test_an_unknown_tier_is_refused(one, capsys):
    root, f = one
    err = _refused(root, capsys, "x1", "--artifact", str(f["artifact"]), "--data", str(f["data"]), "--tier", "mid")
    assert "error: tier 'mid' is not defined in govops.yaml; tiers: low, medium, high" in err


@pytest.mark.parametrize("model", ["Wine_Model", "wine--x", "wine-", "a" * 64, "unknown-tenant/wine"])
def test_an_invalid_model_name_or_tenant_is_refused(one, capsys, model):
    root, f = one
    err = _refused(root, capsys, model, "--artifact", str(f["artifact"]), "--data", str(f["data"]))
    assert "is not valid" in err or "is not declared in govops.yaml" in err


def test_an_existing_spec_is_kept_unless_forced(one, capsys):
    root, f = one
    spec = root / "specs/example/wine-cultivar.yaml"
    before = spec.read_bytes()
    err = _refused(root, capsys, "wine-cultivar", "--artifact", str(f["artifact"]), "--data", str(f["data"]))
    shown = "specs/example/wine-cultivar.yaml"
    assert f"{shown}: error: {shown} already exists; pass --force" in err
    assert spec.read_bytes() == before
    try:
        assert _new(root, "wine-cultivar", "--artifact", str(f["artifact"]), "--data", str(f["data"]),
                    "--force", "--version", "2.0.0") == 0
        assert yaml.safe_load(spec.read_text())["spec"]["deployment"]["champion"] == "2.0.0"
        out = capsys.readouterr().out
        assert "label: took 'cultivar'" in out  # the last column, said so
        assert "todo: spec.validation.evaluationData: held-out data" in out  # only --data was given
    finally:
        spec.write_bytes(before)


def test_a_spec_written_outside_spec_paths_says_so(one, capsys):
    root, f = one
    out_file = root / "drafts" / "w.yaml"
    try:
        assert _new(root, "w", "--artifact", str(f["artifact"]), "--data", str(f["data"]),
                    "--out", str(out_file)) == 0
        assert "note: drafts/w.yaml is outside specPaths (specs)" in capsys.readouterr().out
        assert out_file.read_text().startswith(modeline("model"))
    finally:
        out_file.unlink(missing_ok=True)


def test_files_outside_the_repository_are_named_by_file_uri_with_a_note(one, capsys, tmp_path):
    root, f = one
    outside = tmp_path / "model.joblib"
    outside.write_bytes(f["artifact"].read_bytes())
    spec = root / "specs/example/outside.yaml"
    try:
        assert _new(root, "outside", "--artifact", str(outside), "--data", str(f["data"])) == 0
        assert f"note: {outside} is outside the repository: the spec names it as {outside.as_uri()}" in (
            capsys.readouterr().out)
        assert yaml.safe_load(spec.read_text())["spec"]["versions"][0]["artifact"]["uri"] == outside.as_uri()
        assert main(["-C", str(root), "lint", str(spec)]) == 0
    finally:
        spec.unlink(missing_ok=True)


def test_an_artifact_of_unknown_format_needs_runtime(one, capsys, tmp_path):
    root, f = one
    odd = tmp_path / "model.bin"
    odd.write_bytes(b"x")
    err = _refused(root, capsys, "x1", "--artifact", str(odd), "--data", str(f["data"]))
    assert "cannot tell the runtime of model.bin from its suffix; pass --runtime" in err


# --- the inference rules, on small frames ---------------------------------------------------------------------


def test_feature_rules():
    assert feature("flag", pd.Series([True, False, True])) == {"name": "flag", "type": "boolean"}
    assert feature("city", pd.Series(["b", "a", None])) == {
        "name": "city", "type": "category", "categories": ["a", "b"], "nullable": True}
    assert feature("id", pd.Series([f"u{i}" for i in range(100)])) == {"name": "id", "type": "string"}
    assert feature("count", pd.Series(range(0, 200))) == {"name": "count", "type": "integer", "min": 0, "max": 220}
    assert feature("t", pd.Series([-1.5, 0.25, 3.0])) == {"name": "t", "type": "float", "min": -2, "max": 3.5}
    assert feature("p", pd.Series([0.11, 0.52, 0.93])) == {"name": "p", "type": "float", "min": 0.02, "max": 1.02}


def test_a_regression_label_must_be_numeric():
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]})
    assert infer_interface(frame, "y").task == "classification"
    with pytest.raises(InputError, match="not numeric"):
        infer_interface(frame, "y", task="regression")

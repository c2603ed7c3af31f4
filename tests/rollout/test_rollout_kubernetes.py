"""govops rollout --target kubernetes: Seldon Core v2 / KServe manifests, golden files, CRD schemas, kubectl."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from engine.audit.ledger import read_ledger
from engine.cli import main
from engine.rollout.desired import DesiredModel, DesiredState, DesiredVersion, load_desired
from engine.rollout.k8s_render import render_kserve, render_seldon
from engine.rollout.targets.kubernetes import KubernetesTarget
from engine.spec.errors import InputError
from tests.helpers.rollout_repo import PROJECT, commit, git, make_repo

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "kubernetes"
SHARED = Path(__file__).resolve().parents[1]  # tests/schemas/: copies of shared/schemas (SOURCES.md there)
SCHEMAS = {
    "Model": "seldon-v2-model.schema.json",
    "Server": "seldon-v2-server.schema.json",
    "Experiment": "seldon-v2-experiment.schema.json",
    "InferenceService": "kserve-inferenceservice.schema.json",
}


@pytest.fixture(scope="module")
def example_state() -> DesiredState:
    """The example repository's specs (this checkout's working tree)."""
    return load_desired(PROJECT, "WORKTREE")


def _check_golden(flavor: str, rendered: dict[str, str]) -> None:
    folder = GOLDEN / flavor
    if os.environ.get("GOVOPS_REGENERATE") == "1":
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.yaml"):
            old.unlink()
        for name, text in rendered.items():
            (folder / name).write_text(text)
    expected = {p.name: p.read_text() for p in folder.glob("*.yaml")}
    assert sorted(rendered) == sorted(expected), "files differ; GOVOPS_REGENERATE=1 rewrites the golden files"
    for name, text in rendered.items():
        assert text == expected[name], f"{flavor}/{name} drifted; GOVOPS_REGENERATE=1 rewrites the golden files"


@pytest.mark.parametrize("flavor", ["seldon", "kserve"])
def test_manifests_match_golden_files(example_state, flavor):
    _check_golden(flavor, KubernetesTarget(PROJECT, flavor=flavor).render(example_state))


def _objects(flavor: str, state: DesiredState) -> list[dict]:
    return render_seldon(state) if flavor == "seldon" else render_kserve(state)[0]


@pytest.mark.parametrize("flavor", ["seldon", "kserve"])
def test_every_object_validates_against_its_crd_schema(example_state, flavor):
    if not SHARED.is_dir():
        pytest.skip(f"CRD schemas not found under {SHARED}/schemas")
    import jsonschema

    validators = {
        kind: jsonschema.Draft7Validator(json.loads((SHARED / "schemas" / f).read_text()))
        for kind, f in SCHEMAS.items()
    }
    objects = _objects(flavor, example_state)
    assert objects
    for obj in objects:
        errors = sorted(validators[obj["kind"]].iter_errors(obj), key=str)
        assert errors == [], f"{obj['kind']} {obj['metadata']['name']}: {errors[0].message}"


def test_seldon_experiments_carry_canary_ab_and_shadow(example_state):
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render_seldon(example_state)}
    canary = objects[("Experiment", "clinical-disease-progression")]["spec"]
    assert canary == {
        "default": "clinical-disease-progression-1-0-0",
        "candidates": [{"name": "clinical-disease-progression-1-0-0", "weight": 90},
                       {"name": "clinical-disease-progression-1-1-0", "weight": 10}],
    }
    shadow = objects[("Experiment", "clinical-readmission-triage")]["spec"]
    assert shadow["mirror"] == {"name": "clinical-readmission-triage-2-0-0", "percent": 100}
    assert shadow["candidates"] == [{"name": "clinical-readmission-triage-1-1-0", "weight": 100}]
    assert ("Experiment", "beverages-wine-cultivar") not in objects  # champion only: no experiment
    model = objects[("Model", "lab-iris-species-1-1-0")]
    assert model["spec"]["storageUri"] == "s3://govops-artifacts/artifacts/models/lab/iris-species/1.1.0"
    assert model["spec"]["requirements"] == ["sklearn"] and model["spec"]["server"] == "govops-mlserver"


def test_kserve_uses_raw_deployment_canaries_and_says_what_it_cannot_render(example_state):
    objects, notes = render_kserve(example_state)
    by_name = {o["metadata"]["name"]: o for o in objects}
    onc = by_name["oncology-tumor-malignancy"]
    assert onc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    assert [c["trafficPercent"] for c in onc["spec"]["canary"]] == [20]
    assert "canaryTrafficPercent" not in json.dumps(onc)  # ignored in RawDeployment (KServe issue 5335)
    assert onc["spec"]["predictor"]["model"]["runtime"] == "kserve-mlserver"
    assert "clinical-readmission-triage-failover" in by_name
    assert any("readmission-triage" in n and "shadow" in n for n in notes)


def _state(model_id: str, versions: list[str]) -> DesiredState:
    vs = [
        DesiredVersion(model_id, v, "champion" if i == 0 else "canary", None if i == 0 else 10.0,
                       f"artifacts/{v}/model.joblib", "a" * 64, "mlserver_sklearn.SKLearnModel", {})
        for i, v in enumerate(versions)
    ]
    model = DesiredModel(model_id, "specs/x.yaml", "production", 1, "1", "1Gi", "classification", ["x"],
                         None, None, vs)
    return DesiredState("HEAD", None, {model_id: model})


def test_names_that_cannot_be_valid_are_refused_never_emitted():
    with pytest.raises(InputError, match=r"versions 1\.0\.0, 1_0_0 map to the same Kubernetes name"):
        render_seldon(_state("lab/iris", ["1.0.0", "1_0_0"]))
    long_id = "t" * 40 + "/" + "n" * 40
    with pytest.raises(InputError, match="not an RFC 1123 label"):
        render_seldon(_state(long_id, ["1"]))
    with pytest.raises(InputError, match="not an RFC 1123 label"):
        render_kserve(_state(long_id, ["1"]))
    ok = render_seldon(_state("lab/iris", ["1.0.0+Build.7"]))
    assert {o["metadata"]["name"] for o in ok} == {"govops-mlserver", "lab-iris-1-0-0-build-7"}


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo")


def test_dry_run_writes_one_object_per_file_and_is_idempotent(repo, tmp_path, capsys):
    out = tmp_path / "manifests"
    args = ["-C", str(repo), "rollout", "--target", "kubernetes", "--dry-run", "--out", str(out)]
    assert main(args) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "models.experiment.lab-iris-species.yaml",
        "models.model.beverages-wine-cultivar-1-0-0.yaml",
        "models.model.lab-iris-species-1-0-0.yaml",
        "models.model.lab-iris-species-1-1-0.yaml",
        "models.server.govops-mlserver.yaml",
    ]
    mtimes = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()
    assert main(args) == 0
    assert "in sync: 2 model(s)" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes
    git(repo, "rm", "-q", "specs/beverages/wine-cultivar.yaml")
    commit(repo, "drop wine")
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "- unload  beverages/wine-cultivar 1.0.0 (champion) — model removed from the specs" in text
    assert not (out / "models.model.beverages-wine-cultivar-1-0-0.yaml").exists()
    assert read_ledger(repo) == []  # a dry run records nothing


def _fake_kubectl(bin_dir: Path, log: Path, fail: bool = False) -> None:
    bin_dir.mkdir()
    script = bin_dir / "kubectl"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n" + ("echo boom >&2; exit 3\n" if fail else "exit 0\n"))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_apply_runs_kubectl_server_side_and_deletes_removed_objects_after(repo, tmp_path, monkeypatch, capsys):
    log = tmp_path / "kubectl.log"
    _fake_kubectl(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    out = tmp_path / "manifests"
    args = ["-C", str(repo), "rollout", "--target", "kubernetes", "--flavor", "seldon", "--apply", "--out", str(out)]
    assert main(args) == 0
    assert log.read_text().splitlines() == [f"apply --server-side --field-manager=govops -f {out}"]
    git(repo, "rm", "-q", "specs/beverages/wine-cultivar.yaml")
    sha = commit(repo, "drop wine")
    assert main(args) == 0
    assert log.read_text().splitlines()[1:] == [
        f"apply --server-side --field-manager=govops -f {out}",
        "delete --ignore-not-found -n models model.mlops.seldon.io/beverages-wine-cultivar-1-0-0",
    ]
    [record] = read_ledger(repo, sha)[0].records
    assert record["target"] == "kubernetes/seldon" and record["outcome"] == "succeeded"
    capsys.readouterr()


def test_kubectl_failure_exits_1_and_missing_kubectl_exits_2(repo, tmp_path, monkeypatch, capsys):
    only_git = tmp_path / "only-git"
    only_git.mkdir()
    (only_git / "git").symlink_to(shutil.which("git"))
    monkeypatch.setenv("PATH", str(only_git))
    args = ["-C", str(repo), "rollout", "--target", "kubernetes", "--apply", "--out", str(tmp_path / "m")]
    assert main(args) == 2
    assert "kubectl is not installed" in capsys.readouterr().err
    _fake_kubectl(tmp_path / "bin", tmp_path / "log", fail=True)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{only_git}")
    assert main(args) == 1
    assert "`kubectl apply` failed (exit 3): boom" in capsys.readouterr().err


def test_kubernetes_target_needs_out_or_apply(repo, capsys):
    assert main(["-C", str(repo), "rollout", "--target", "kubernetes", "--dry-run"]) == 2
    assert "--out DIR" in capsys.readouterr().err

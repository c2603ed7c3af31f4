"""Rendered manifests are checked against the vendored schemas before they are written, applied or submitted;
``govops policy input --validate`` checks the policy inputs against ``policies/input.schema.json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.rollout import k8s_render
from engine.rollout.manifest_schemas import SCHEMA_DIR, SCHEMAS, check_object
from engine.spec.manifest_check import ManifestError, check_manifest, problems
from engine.validation.manifest_schemas import SCHEMA_FILE, check_argo_object
from tests.conftest import copy_example_repo
from tests.helpers.rollout_repo import make_repo

TESTS = Path(__file__).resolve().parents[1]


def model(**spec: object) -> dict:
    return {"apiVersion": "mlops.seldon.io/v1alpha1", "kind": "Model",
            "metadata": {"name": "lab-iris-1-0-0", "namespace": "models"},
            "spec": {"storageUri": "gs://bucket/iris", "requirements": ["sklearn"], **spec}}


def test_a_valid_object_passes_and_an_unknown_field_is_named() -> None:
    check_object(model())
    with pytest.raises(ManifestError) as exc:
        check_object(model(storageUrl="gs://typo"))
    assert exc.value.exit_code == 2
    assert ("Model 'lab-iris-1-0-0', which the cluster would refuse: spec.storageUrl: unknown field "
            "(did you mean 'storageUri'?)") in exc.value.message


def test_a_wrong_type_and_a_bad_name_are_named_at_their_field() -> None:
    bad = model(replicas="two")
    bad["metadata"]["name"] = "Not_A_Name"
    found = problems(bad, SCHEMA_DIR / SCHEMAS[("mlops.seldon.io/v1alpha1", "Model")])
    assert any(p.startswith("spec.replicas: 'two' is not of type 'integer'") for p in found)
    assert any(p.startswith("metadata.name: ") for p in found)


def test_an_object_of_a_kind_without_schema_is_refused() -> None:
    with pytest.raises(ManifestError, match="no schema for"):
        check_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})


def test_the_vendored_schemas_validate_like_the_shared_copies() -> None:
    """Dropping documentation changed nothing: the shared copy refuses what the vendored one refuses."""
    for name in ("seldon-v2-model.schema.json", "kserve-inferenceservice.schema.json"):
        shared = TESTS / "schemas" / name
        if not shared.is_file():
            pytest.skip(f"{shared} absent")
        for doc in (model(), model(replicas="two"), {"kind": "Model"}):
            vendored = {p.split(":")[0] for p in problems(doc, SCHEMA_DIR / name) if "unknown field" not in p}
            original = {p.split(":")[0] for p in problems(doc, shared) if "unknown field" not in p}
            assert vendored == original
    argo = json.loads(SCHEMA_FILE.read_text())
    assert "io.argoproj.workflow.v1alpha1.Workflow" in argo["definitions"]


def test_an_argo_workflow_with_an_unknown_field_is_refused() -> None:
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "govops-"},
          "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "x:1"}}]}}
    check_argo_object(wf)
    wf["spec"]["templates"][0]["container"]["imagePullPolicyy"] = "Always"
    typo = r"spec\.templates\[0\]\.container\.imagePullPolicyy: unknown field \(did you mean 'imagePullPolicy'\?\)"
    with pytest.raises(ManifestError, match=typo):
        check_argo_object(wf)
    check_argo_object({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"},
                       "anything": True})  # not an Argo kind: the Argo schema does not describe it


def test_a_manifest_with_an_unknown_field_is_refused_before_writing(tmp_path, monkeypatch, capsys) -> None:
    repo = make_repo(tmp_path / "repo")
    real = k8s_render.render_seldon

    def with_typo(*args, **kwargs):
        objects = real(*args, **kwargs)
        objects[-1]["spec"]["replicaz"] = 2
        return objects

    monkeypatch.setattr(k8s_render, "render_seldon", with_typo)
    monkeypatch.setattr("engine.rollout.targets.kubernetes.render_seldon", with_typo)
    out = tmp_path / "manifests"
    rc = main(["-C", str(repo), "rollout", "--target", "kubernetes", "--dry-run", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "spec.replicaz: unknown field" in err and "nothing was written" in err
    assert not out.exists() or not any(out.iterdir())


def test_argo_render_writes_nothing_when_a_template_would_be_refused(tmp_path, monkeypatch, capsys) -> None:
    repo = copy_example_repo(tmp_path / "repo", git=False)
    from engine.validation import submit

    real = submit.pinned_template

    def with_typo(*args, **kwargs):
        doc = real(*args, **kwargs)
        doc["spec"]["entrypointt"] = "x"
        return doc

    monkeypatch.setattr(submit, "pinned_template", with_typo)
    out = tmp_path / "argo"
    assert main(["-C", str(repo), "argo", "render", "--out", str(out)]) == 2
    assert "spec.entrypointt: unknown field (did you mean 'entrypoint'?)" in capsys.readouterr().err
    assert not out.exists()


def test_policy_input_validate(tmp_path, monkeypatch, capsys) -> None:
    repo = copy_example_repo(tmp_path / "repo", git=False)
    assert main(["-C", str(repo), "policy", "input", "--all", "--validate"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert docs
    schema_file = repo / "policies" / "input.schema.json"
    schema = json.loads(schema_file.read_text())
    schema["required"] = [*schema.get("required", []), "no_such_field"]
    schema_file.write_text(json.dumps(schema))
    assert main(["-C", str(repo), "policy", "input", "--all", "--validate"]) == 2
    err = capsys.readouterr().err
    assert "does not match input.schema.json: input: 'no_such_field' is a required property" in err
    schema_file.unlink()
    assert main(["-C", str(repo), "policy", "input", "--all", "--validate"]) == 2
    assert "no input schema to validate against" in capsys.readouterr().err


def test_check_manifest_accepts_the_kserve_schema() -> None:
    isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "lab-iris", "namespace": "models"},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/k"}}}}
    check_manifest(isvc, SCHEMA_DIR / "kserve-inferenceservice.schema.json")
    isvc["spec"]["predictor"]["model"]["storageURI"] = "gs://typo"
    with pytest.raises(ManifestError, match=r"spec\.predictor\.model\.storageURI: unknown field"):
        check_object(isvc)

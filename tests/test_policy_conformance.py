"""The same policy cases through every available backend: identical decisions, fail-closed errors.

The regopy leg always runs. The OPA-server leg runs against a real `opa run --server`
when an `opa` binary is on PATH, and is skipped with the reason otherwise. The OPA
backend's error handling (down, slow, 500, empty result, compile error) is tested
against a local HTTP server started here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.policy.backend import get_backend
from engine.policy.check import build_inputs, select
from engine.policy.errors import PolicyError
from engine.policy.inputs import dumps_without_now, with_now
from engine.policy.library import load_library
from engine.policy.opa_backend import OpaBackend
from engine.settings import Settings
from tests.conftest import PROJECT, copy_example_repo

# `make test` puts OPA's release in the virtualenv when it can reach GitHub (scripts/system-deps.sh)
_VENV_OPA = Path(sys.executable).parent / "opa"
OPA = shutil.which("opa") or (str(_VENV_OPA) if os.access(_VENV_OPA, os.X_OK) else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _patched(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    for dotted, value in changes.items():
        node = out
        parts = dotted.split("__")
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[parts[-1]] = value
    return out


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, set[str]]]:
    """(name, input JSON, expected denied rules): every rule family, incl. waivers and freezes."""
    repo = copy_example_repo(tmp_path_factory.mktemp("conf") / "repo", git=False)
    settings = Settings(now="2026-11-01T00:00:00+00:00")
    scope = select(repo, all_models=True)
    builder, docs = build_inputs(scope, settings, load_library(repo), repo)
    by_model = {d["model"]: d["input"] for d in docs}
    high = by_model["clinical/readmission-triage"]
    med = by_model["clinical/disease-progression"]
    change = {"author": "dana.ds", "approvals": [{"approver": "fay.lead", "group": None}],
              "labels": [], "changed_files": ["specs/clinical/readmission-triage.yaml"],
              "target_branch": "main", "pr_number": 3}
    high_change = _patched(high, mode="change", context=change)
    high_change["plan"]["change"] = "modified"
    high_change["plan"]["kinds"] = ["metadata_change"]
    raw: list[tuple[str, dict[str, Any], set[str]]] = [(f"recheck {m}", d, set()) for m, d in sorted(by_model.items())]
    unpinned = json.loads(json.dumps(high))
    del unpinned["spec"]["spec"]["versions"][0]["artifact"]["sha256"]
    raw.append(("unpinned artifact", unpinned, {"GOV-ART-001"}))
    raw.append(("bad runtime", _patched(high, spec__spec__versions__1__runtime="x.Y"), {"GOV-ART-002"}))
    raw.append(("latest id", _patched(med, spec__spec__versions__1__id="latest"), {"GOV-ART-003"}))
    loose = _patched(med, checks__performance__min_r2=0.1, previous_checks={})
    raw.append(("loosened threshold, new model", loose, {"GOV-THR-001"}))
    raw.append(("high-tier change, one approval", high_change, {"GOV-APP-001", "GOV-APP-002"}))
    approved = _patched(high_change, context__approvals=[{"approver": "fay.lead", "group": None},
                                                         {"approver": "rita.risk", "group": "risk"}])
    raw.append(("high-tier change, approved", approved, set()))
    raw.append(("outsider author", _patched(approved, context__author="mallory"), {"GOV-TEN-003"}))
    frozen = _patched(approved, now_ns=1798156800000000000)  # 2026-12-25
    raw.append(("freeze", frozen, {"GOV-FRZ-001"}))
    raw.append(("sensitive feature", _patched(high, spec__spec__interface__inputs__0__modelInput=True),
                {"GOV-SEN-001"}))
    raw.append(("no shutdown", _patched(high, spec__spec__monitoring__autoShutdown__enabled=False), {"GOV-ALR-003"}))
    waiver = {"rule": "GOV-ART-001", "model": "clinical/readmission-triage", "reason": "r", "approver": "rita.risk",
              "expires": "2027-01-01T00:00:00+00:00", "expires_ns": 1798761600000000000}
    raw.append(("waived", _patched(unpinned, waivers=[waiver]), set()))
    raw.append(("waiver expired", _patched(unpinned, waivers=[waiver], now_ns=1798761600000000000), {"GOV-ART-001"}))
    governed = _patched(approved, context__changed_files=["policies/main.rego"],
                        context__approvals=[{"approver": "fay.lead", "group": None}])
    raw.append(("policy edit without risk", governed, {"GOV-META-001", "GOV-APP-001", "GOV-APP-002"}))
    removal = {"model": "clinical/readmission-triage", "change": "removed", "kinds": ["removed_model"],
               "thresholds": []}
    removed = _patched(high_change, plan=removal)
    del removed["spec"]["spec"]["versions"][0]["artifact"]["sha256"]  # the deleted spec's content is not judged
    raw.append(("removal, one approval", removed, {"GOV-APP-001", "GOV-APP-002"}))
    raw.append(("removal, approved", _patched(removed, context__approvals=approved["context"]["approvals"]), set()))
    return [(name, json.dumps(doc, sort_keys=True), expected) for name, doc, expected in raw]


def _normalise(decision: dict[str, Any]) -> dict[str, Any]:
    key = lambda d: (d["rule"], d.get("path", ""), d["message"])  # noqa: E731
    return {k: sorted(decision[k], key=key) for k in ("deny", "warn")}


@pytest.fixture(scope="module")
def regopy_decisions(cases: list[tuple[str, str, set[str]]]) -> list[dict[str, Any]]:
    backend = get_backend("regopy", Settings())
    backend.load(load_library(PROJECT))
    try:
        return [_normalise(d) for d in backend.evaluate_many([(n, t) for n, t, _ in cases])]
    finally:
        backend.close()


def test_regopy_decisions_match_the_expected_rules(cases: list, regopy_decisions: list) -> None:
    for (name, _, expected), decision in zip(cases, regopy_decisions, strict=True):
        assert {d["rule"] for d in decision["deny"]} == expected, name


def test_regopy_is_deterministic_across_worker_counts(cases: list, regopy_decisions: list) -> None:
    backend = get_backend("regopy", Settings(policy_jobs=2))
    backend.load(load_library(PROJECT))
    try:
        many = [(n, t) for n, t, _ in cases] * 5
        again = [_normalise(d) for d in backend.evaluate_many(many)]
    finally:
        backend.close()
    assert again == regopy_decisions * 5


@pytest.fixture(scope="module")
def opa_server() -> Iterator[str]:
    if OPA is None:
        pytest.skip("no `opa` binary on PATH or in the virtualenv: the OPA-server conformance leg needs it "
                    "(`make test` fetches OPA's release where GitHub is reachable; no registry ships it)")
    port = _free_port()
    proc = subprocess.Popen([OPA, "run", "--server", "--addr", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        import requests

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/health", timeout=0.5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield url
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_opa_server_gives_identical_decisions(cases: list, regopy_decisions: list, opa_server: str) -> None:
    backend = OpaBackend(opa_server, timeout_s=5, retries=1)
    backend.load(load_library(PROJECT))
    try:
        got = [_normalise(d) for d in backend.evaluate_many([(n, t) for n, t, _ in cases])]
    finally:
        backend.close()
    for (name, _, _), a, b in zip(cases, regopy_decisions, got, strict=True):
        assert a == b, name


# ------------------------------------------------------------------ OPA error handling


class _Handler(BaseHTTPRequestHandler):
    behaviour: dict[str, Any] = {}
    posts: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_PUT(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.behaviour.get("compile_error") and self.path.endswith("/artifacts.rego"):
            self._reply(400, {"code": "invalid_parameter", "message": "error(s) occurred while compiling module(s)",
                              "errors": [{"code": "rego_parse_error", "message": "unexpected } token",
                                          "location": {"file": "govops/artifacts.rego", "row": 7, "col": 3}}]})
            return
        self._reply(200, {})

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.posts.append(self.path)
        mode = self.behaviour.get("post")
        if mode == "slow":
            time.sleep(2)
            self._reply(200, {"result": {"deny": [], "warn": []}})
        elif mode == "500":
            self._reply(500, {"code": "internal_error", "message": "boom"})
        elif mode == "empty":
            self._reply(200, {})
        elif mode == "shape":
            self._reply(200, {"result": {"deny": "nope"}})
        else:
            self._reply(200, {"result": {"deny": [{"rule": "R", "message": "m", "path": "spec"}], "warn": []}})


@pytest.fixture
def fake_opa() -> Iterator[tuple[str, dict[str, Any], list[str]]]:
    behaviour: dict[str, Any] = {}
    posts: list[str] = []
    handler = type("H", (_Handler,), {"behaviour": behaviour, "posts": posts})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", behaviour, posts
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _one(url: str, **kw: Any) -> list[Any]:
    backend = OpaBackend(url, **kw)
    backend.load(load_library(PROJECT))
    try:
        return backend.evaluate_many([("lab/iris-species", '{"model":"lab/iris-species"}')])
    finally:
        backend.close()


def test_opa_answer_is_used_and_strict_builtin_errors_requested(fake_opa: tuple) -> None:
    url, _, posts = fake_opa
    assert _one(url) == [{"deny": [{"rule": "R", "message": "m", "path": "spec"}], "warn": []}]
    assert posts == ["/v1/data/govops/main?strict-builtin-errors=true"]


def test_opa_down_is_an_error_naming_the_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(PolicyError, match=rf"OPA server at {url} is unreachable"):
        _one(url, timeout_s=0.5, retries=0)


def test_opa_slow_times_out(fake_opa: tuple) -> None:
    url, behaviour, _ = fake_opa
    behaviour["post"] = "slow"
    start = time.monotonic()
    with pytest.raises(PolicyError, match=rf"OPA server at {url} did not answer within 0.5s"):
        _one(url, timeout_s=0.5, retries=0)
    assert time.monotonic() - start < 1.9


def test_opa_500_is_an_error_after_retries(fake_opa: tuple) -> None:
    url, behaviour, posts = fake_opa
    behaviour["post"] = "500"
    with pytest.raises(PolicyError, match=rf"OPA server at {url} answered HTTP 500"):
        _one(url, timeout_s=2, retries=2)
    assert len(posts) == 3


def test_opa_empty_result_is_an_error_not_an_allow(fake_opa: tuple) -> None:
    url, behaviour, _ = fake_opa
    behaviour["post"] = "empty"
    with pytest.raises(PolicyError, match=rf"OPA server at {url} returned no result .*undefined"):
        _one(url)


def test_opa_wrong_shape_is_an_error(fake_opa: tuple) -> None:
    url, behaviour, _ = fake_opa
    behaviour["post"] = "shape"
    with pytest.raises(PolicyError, match="must return"):
        _one(url)


def test_opa_compile_error_names_the_rego_file_line(fake_opa: tuple) -> None:
    url, behaviour, _ = fake_opa
    behaviour["compile_error"] = True
    with pytest.raises(PolicyError) as err:
        _one(url)
    assert (err.value.file, err.value.line, err.value.col) == ("policies/artifacts.rego", 7, 3)
    assert "unexpected } token" in err.value.message


def test_backend_is_chosen_by_settings() -> None:
    assert get_backend(None, Settings()).name == "regopy"
    assert get_backend(None, Settings(opa_url="http://127.0.0.1:8181")).name == "opa"
    from engine.errors import UsageError

    with pytest.raises(UsageError, match="unknown policy backend"):
        get_backend("wasm", Settings())


def test_check_through_opa_backend_end_to_end(fake_opa: tuple, tmp_path: Path) -> None:
    url, _, posts = fake_opa
    repo = copy_example_repo(tmp_path / "repo", git=False)
    from engine.policy.check import run_check

    out = run_check(repo, models=["lab/iris-species"], settings=Settings(opa_url=url, policy_cache=False))
    assert [(d.rule, d.file, d.model) for d in out.findings.diagnostics] == [
        ("R", "specs/lab/iris-species.yaml", "lab/iris-species")
    ]
    assert out.decisions[0]["backend"] == "opa" and len(posts) == 1
    text = dumps_without_now(out.inputs[0]["input"])
    assert json.loads(with_now(text, 5))["now_ns"] == 5

"""Exact hand-over to every policy engine (issue #15, hole 1): PR strings reach the policy as they are.

A file name or ``--author`` such as ``z"}],"deny":[],"x":[{"m":"`` used to break out of its
quotes in rego-cpp's output and forge an empty ``deny`` (exit 0); ``a"b`` failed with a
JSONDecodeError and ``a\\b`` arrived as a backspace. Here every such string goes through
the real regopy backend (built and text paths, with and without run data), the real policy
library, the real CLI on a real git repository, and the OPA backend against a loopback
server that decodes and answers the way OPA does; answers with duplicate keys fail closed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main as cli_main
from engine.policy.backend import check_result
from engine.policy.errors import PolicyError, PolicyInputError
from engine.policy.exact import inexact_number, inexact_string, loads_strict, rego_json
from engine.policy.library import PolicyLibrary, load_library
from engine.policy.opa_backend import OpaBackend
from engine.policy.regopy_backend import RegopyBackend, _value
from engine.spec.errors import MalformedOutput
from tests.conftest import copy_example_repo, run_git

FORGED = 'z"}],"deny":[],"x":[{"m":"'

STRINGS: dict[str, str] = {
    "forged-json": FORGED,
    "quote": 'a"b',
    "backslash": "a\\b",
    "escape-lookalikes": '\\u0000 \\n \\" \\\\ \\ud800',
    "nul": "a\x00b",
    "controls": "".join(map(chr, range(0x20))) + "\x7f\x80\x9f",
    "controls-no-nul": "a\bc\x01\t\n\r\x1b[31m\x7f",
    "non-bmp": "\U0001f600\U0001d11e \U0010ffff",
    "separators-bom": "\u2028\u2029\ufeff\ufffe\uffff",
    "mixed-unicode": "Zoë \u0130stanbul \u05e9\u05dc\u05d5\u05dd",
    "one-mib": ('"\\' + "\x01" + "\U0001f600" + "x" * 60) * 16384,
}
CLI_STRINGS = {k: v for k, v in STRINGS.items() if "\x00" not in v and k != "one-mib"}  # argv holds neither


# ------------------------------------------------------------------ strict parsing of answers


@pytest.mark.parametrize(
    "text",
    [
        '{"expressions":[{"deny":[{"rule":"R","message":"m","path":""}],"warn":[],"deny":[]}]}',
        '{"expressions":[{"deny":[{"rule":"R","message":"m","message":"n","path":""}],"warn":[]}]}',
        '{"expressions":[{"deny":[],"warn":[]}],"expressions":[{"deny":[],"warn":[]}]}',
    ],
    ids=["top-level-deny", "nested", "outer"],
)
def test_regopy_output_with_duplicate_keys_is_an_error_not_a_decision(text: str) -> None:
    kind, why = _value(text)
    assert kind == "error"
    assert "duplicate key" in why


@pytest.mark.parametrize(
    "text",
    [
        '{"expressions":[{"deny":[],"warn":[]}]} trailing',
        '{"expressions":[{"deny":[],"warn":[NaN]}]}',
        '{"expressions":[{"deny":[],"warn":[]},{"deny":[],"warn":[]}]}',
        '{"expressions":[{"deny":[{"rule":"R","message":"\\ud800","path":""}],"warn":[]}]}',
        '{"expressions":[{"deny":[{"rule":"R","message":"a"b","path":""}],"warn":[]}]}',
        "[]",
        '"deny"',
    ],
    ids=["trailing", "nan", "two-expressions", "lone-surrogate", "raw-quote", "no-result", "not-an-object"],
)
def test_regopy_output_that_cannot_be_read_exactly_is_an_error(text: str) -> None:
    kind, _ = _value(text)
    assert kind == "error"


def test_loads_strict_refuses_what_json_loads_lets_through() -> None:
    for text in ('{"a":1,"a":2}', '{"a":Infinity}', '{"a":-Infinity}', "[1] [2]", b'{"a":"\xff"}'):
        with pytest.raises(MalformedOutput):
            loads_strict(text)
    assert loads_strict(b'{"a":"\xc3\xa9\\ud83d\\ude00"}') == {"a": "é\U0001f600"}


def test_inexact_string_finds_lone_surrogates_only() -> None:
    assert inexact_string(json.dumps({"a": list(STRINGS.values())})) is None
    assert inexact_string(json.dumps({"a": list(STRINGS.values())}, ensure_ascii=False)) is None
    assert inexact_string(json.dumps({"context": {"changed_files": ["ok", "bad\udcff"]}})) == "context.changed_files[1]"
    assert inexact_string('{"k":"\\\\ud800"}') is None  # an escaped backslash, then the text "ud800"


# ------------------------------------------------------------------ the real regopy backend

ECHO = r"""package govops

import rego.v1

main := {"deny": deny, "warn": []}

deny contains {"rule": "AUTHOR", "message": input.context.author, "path": ""}

deny contains {"rule": "FILE", "message": f, "path": "", "file": f} if some f in input.context.changed_files

deny contains {"rule": "LABEL", "message": k, "path": ""} if some k, _ in input.context.labels

deny contains {"rule": "SPRINTF", "message": sprintf("by %s!", [input.context.author]), "path": ""}

deny contains {"rule": "CONCAT", "message": concat("/", ["x", input.context.author]), "path": ""}

deny contains {"rule": "IN-RUN-DATA", "message": "", "path": ""} if {
	input.context.author in data.govops_run.config.names
}

deny contains {"rule": "SAME-AS-RUN-DATA", "message": "", "path": ""} if {
	data.govops_run.config.names[input.index] == input.context.author
}

deny contains {"rule": "LITERAL-QUOTE", "message": "", "path": ""} if input.context.author == "a\"b"
"""


def _rules(decision: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in decision["deny"]:
        out.setdefault(item["rule"], []).append(item["message"])
    return {k: sorted(v) for k, v in out.items()}


def _expected(s: str) -> dict[str, list[str]]:
    rules = {
        "AUTHOR": [s],
        "FILE": sorted([s, "specs/x.yaml"]),
        "LABEL": sorted([s, "plain"]),
        "SPRINTF": [f"by {s}!"],
        "CONCAT": [f"x/{s}"],
        "IN-RUN-DATA": [""],
        "SAME-AS-RUN-DATA": [""],
    }
    if s == 'a"b':
        rules["LITERAL-QUOTE"] = [""]
    return rules


@pytest.fixture(scope="module")
def echo_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegopyBackend]:
    """The real regopy backend with an echoing policy and run data holding every test string."""
    root = tmp_path_factory.mktemp("echo")
    backend = RegopyBackend(timeout_s=60, jobs=1)
    run = {"config": {"names": list(STRINGS.values())}, "freezes": [], "waivers": []}
    backend.load(PolicyLibrary(root, "policies", {"echo.rego": ECHO}), run)
    try:
        yield backend
    finally:
        backend.close()


@pytest.mark.parametrize("as_text", [False, True], ids=["built", "text"])
@pytest.mark.parametrize("ascii_json", [True, False], ids=["ascii-json", "utf8-json"])
@pytest.mark.slow
def test_every_string_reaches_regopy_and_comes_back_exactly(
    echo_backend: RegopyBackend, as_text: bool, ascii_json: bool
) -> None:
    inputs = []
    for i, s in enumerate(STRINGS.values()):
        doc: dict[str, Any] = {
            "index": i,
            "context": {"author": s, "changed_files": [s, "specs/x.yaml"], "labels": {s: True, "plain": True}},
        }
        if as_text:
            doc["ratio"] = 1e-07  # a float the input-stack API would round: the document goes as text
        inputs.append((f"m{i}", json.dumps(doc, ensure_ascii=ascii_json)))
    decisions = echo_backend.evaluate_many(inputs)
    for (name, s), decision in zip(STRINGS.items(), decisions, strict=True):
        assert _rules(decision) == _expected(s), name
        files = {i["message"]: i.get("file") for i in decision["deny"] if i["rule"] == "FILE"}
        assert files[s] == s, name


def test_a_lone_surrogate_is_refused_by_regopy(echo_backend: RegopyBackend) -> None:
    doc = {"index": 0, "context": {"author": "x", "changed_files": ["policies/bad\udcffname"], "labels": {}}}
    with pytest.raises(PolicyInputError, match=r"not valid Unicode at context\.changed_files\[0\]"):
        echo_backend.evaluate_many([("m", json.dumps(doc))])


def test_run_data_and_text_inputs_use_the_same_string_form() -> None:
    """What ``add_data_json`` and ``set_input_term`` receive: raw UTF-8, JSON escapes for the rest."""
    assert rego_json({'a"\\\x00': ["é\U0001f600\n\x7f", 1e-06]}) == '{"a\\"\\\\\\u0000":["é\U0001f600\\n\x7f",1.0e-06]}'


# ------------------------------------------------------------------ the real policy library


def _canary_repo(path: Path) -> Path:
    """A demo-style repository on a branch that moves readmission-triage 2.0.0 from shadow to a 10% canary."""
    repo = copy_example_repo(path)
    run_git(repo, "checkout", "-q", "-b", "canary")
    spec = repo / "specs/clinical/readmission-triage.yaml"
    text = spec.read_text()
    assert "{version: 2.0.0, mode: shadow}" in text
    spec.write_text(text.replace("{version: 2.0.0, mode: shadow}", "{version: 2.0.0, mode: canary, weight: 10}"))
    run_git(repo, "commit", "-qam", "canary 2.0.0")
    return repo


@pytest.fixture(scope="module")
def canary_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _canary_repo(tmp_path_factory.mktemp("canary") / "repo")


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith(("GOVOPS_", "GITHUB_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("GOVOPS_POLICY_CACHE", "0")


def _check(repo: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    rc = cli_main(["-C", str(repo), "check", "--base", "main", "--head", "HEAD", "--format", "json", *extra])
    out = capsys.readouterr()
    assert out.out, out.err
    return rc, json.loads(out.out)


@pytest.mark.slow
def test_regopy_hands_each_string_to_the_real_library_exactly(canary_repo: Path, capsys: Any, cli_env: None) -> None:
    """NUL and a 1 MiB author (which argv cannot carry) through the published input and the default policies."""
    rc = cli_main(["-C", str(canary_repo), "policy", "input", "clinical/readmission-triage", "--base", "main",
                   "--head", "HEAD", "--author", "placeholder"])
    assert rc == 0
    (item,) = json.loads(capsys.readouterr().out)
    backend = RegopyBackend(timeout_s=120, jobs=1)
    backend.load(load_library(canary_repo))
    try:
        inputs = []
        for name, s in STRINGS.items():
            doc = json.loads(json.dumps(item["input"]))
            doc["context"]["author"] = s
            inputs.append((name, json.dumps(doc, sort_keys=True, separators=(",", ":"))))
        decisions = backend.evaluate_many(inputs)
    finally:
        backend.close()
    for (name, s), decision in zip(STRINGS.items(), decisions, strict=True):
        rules = {d["rule"]: d["message"] for d in decision["deny"]}
        assert {"GOV-APP-001", "GOV-APP-002", "GOV-TEN-003", "GOV-TEN-004"} <= set(rules), name
        assert rules["GOV-TEN-003"].startswith(f"{s} may not change tenant clinical's specs"), name


@pytest.mark.parametrize("where", ["policies/", ""], ids=["under-policies", "at-the-root"])
def test_a_forged_file_name_in_a_pr_still_denies(
    tmp_path: Path, capsys: Any, cli_env: None, where: str
) -> None:
    repo = _canary_repo(tmp_path / "repo")
    name = f"{where}{FORGED}"
    (repo / name).write_text("harmless\n")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "a file with a forged name")
    rc, doc = _check(repo, capsys, "--author", "dana.ds")
    assert rc == 1
    assert doc["ok"] is False
    rules = {v["rule"] for v in doc["violations"]}
    assert {"GOV-APP-001", "GOV-APP-002", "GOV-TEN-004"} <= rules
    if where:
        meta = [v for v in doc["violations"] if v["rule"] == "GOV-META-001"]
        assert len(meta) == 1 and json.dumps([name]) in meta[0]["message"]
        assert meta[0]["file"] == name


@pytest.mark.parametrize("author", list(CLI_STRINGS.values()), ids=list(CLI_STRINGS))
@pytest.mark.slow
def test_an_author_string_is_judged_as_typed(canary_repo: Path, capsys: Any, cli_env: None, author: str) -> None:
    rc, doc = _check(canary_repo, capsys, "--author", author)
    assert rc == 1
    rules = {v["rule"]: v["message"] for v in doc["violations"]}
    assert {"GOV-APP-001", "GOV-APP-002", "GOV-TEN-003", "GOV-TEN-004"} <= set(rules)
    assert rules["GOV-TEN-003"].startswith(f"{author} may not change tenant clinical's specs")


# ------------------------------------------------------------------ the OPA-server backend


class _OpaLike(BaseHTTPRequestHandler):
    """Decodes each query as OPA does and answers with the author as a deny message (UTF-8, as OPA writes)."""

    behaviour: dict[str, Any] = {}
    posts: list[bytes] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, raw: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_PUT(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._reply(b"{}")

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.posts.append(body)
        if self.behaviour.get("duplicate"):
            self._reply(b'{"result":{"deny":[{"rule":"R","message":"m","path":""}],"warn":[],"deny":[]}}')
            return
        author = json.loads(body)["input"]["context"]["author"]
        result = {"deny": [{"rule": "AUTHOR", "message": author, "path": ""}], "warn": []}
        self._reply(json.dumps({"result": result}, ensure_ascii=False).encode())


@pytest.fixture
def opa_like(tmp_path: Path) -> Iterator[tuple[OpaBackend, dict[str, Any], list[bytes]]]:
    behaviour: dict[str, Any] = {}
    posts: list[bytes] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_OpaLike,), {"behaviour": behaviour, "posts": posts}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    backend = OpaBackend(f"http://127.0.0.1:{server.server_address[1]}", timeout_s=30, retries=0)
    backend.load(PolicyLibrary(tmp_path, "policies", {"echo.rego": ECHO}))
    try:
        yield backend, behaviour, posts
    finally:
        backend.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_every_string_reaches_opa_and_comes_back_exactly(opa_like: tuple) -> None:
    backend, _, _ = opa_like
    inputs = [(name, json.dumps({"context": {"author": s}})) for name, s in STRINGS.items()]
    for (name, s), decision in zip(STRINGS.items(), backend.evaluate_many(inputs), strict=True):
        assert decision == {"deny": [{"rule": "AUTHOR", "message": s, "path": ""}], "warn": []}, name


def test_opa_answer_with_duplicate_keys_fails_closed(opa_like: tuple) -> None:
    backend, behaviour, _ = opa_like
    behaviour["duplicate"] = True
    with pytest.raises(PolicyError, match="duplicate key 'deny'"):
        backend.evaluate_many([("clinical/readmission-triage", json.dumps({"context": {"author": "x"}}))])


def test_opa_is_never_sent_a_string_it_would_change(opa_like: tuple) -> None:
    backend, _, posts = opa_like
    doc = {"context": {"author": "x", "changed_files": ["policies/bad\udcffname"]}}
    with pytest.raises(PolicyInputError, match=r"context\.changed_files\[0\]"):
        backend.evaluate_many([("m", json.dumps(doc))])
    assert posts == []


def test_check_result_still_refuses_a_wrong_shape() -> None:
    with pytest.raises(PolicyError):
        check_result({"deny": [{"rule": "R", "message": 3}], "warn": []}, "here")


def test_a_float_the_embedded_engine_would_round_is_refused(echo_backend: RegopyBackend) -> None:
    # rego-cpp keeps 16 significant digits; 0.30000000000000004 would arrive as 0.3 and could
    # decide differently from OPA, so no engine is handed it
    doc = {"context": {"author": "x"}, "spec": {"threshold": 0.1 + 0.2}}
    with pytest.raises(PolicyInputError, match=r"0\.30000000000000004 at spec\.threshold.*at most 16"):
        echo_backend.evaluate_many([("m", json.dumps(doc))])
    assert inexact_number(json.dumps({"sha256": "1" * 40, "x": 0.5, "n": 2**63 - 1})) is None

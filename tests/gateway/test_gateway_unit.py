"""Gateway pieces without servers: routing table, stickiness, weights, auth, V2 checks, prediction log."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from scipy import stats

from engine.gateway.auth import KeyStore, keys_from_env, load_keys, presented_key
from engine.gateway.predlog import (
    BASE_COLUMNS,
    Exchange,
    Feedback,
    PredictionLog,
    exchange_rows,
    join_feedback,
    read_feedback,
    read_window,
)
from engine.gateway.routing import key_point, table_from_data
from engine.gateway.v2 import parse_infer_request
from engine.spec.errors import InputError, PayloadError, TableError

U = "http://127.0.0.1:9"


def table(weights: dict[str, tuple[str, float | None]], failover: str | None = "0.9.0"):
    versions = {"1.0.0": {"role": "champion"}}
    for v, (role, w) in weights.items():
        versions[v] = {"role": role, **({"weight": w} if w is not None else {})}
    if failover:
        versions[failover] = {"role": "failover"}
    return table_from_data({"upstream": U, "models": {"lab/iris": {"inputs": ["a", "b"], "versions": versions}}})


# -- routing -----------------------------------------------------------------------------------------


def test_table_roles_and_urls():
    t = table({"1.1.0": ("canary", 20), "2.0.0": ("shadow", None)})
    r = t.models["lab--iris"]
    assert r.tenant == "lab" and r.champion.version == "1.0.0"
    assert [v.version for v in r.weighted] == ["1.1.0"]
    assert [v.version for v in r.shadows] == ["2.0.0"]
    assert r.failover is not None and r.failover.version == "0.9.0"
    assert r.champion.infer_url == f"{U}/v2/models/lab--iris/versions/1.0.0/infer"
    assert r.inputs == ("a", "b")


def test_same_key_always_same_version():
    r = table({"1.1.0": ("ab", 50)}).models["lab--iris"]
    for key in ("alice", "bob", "carol", "42"):
        picked = {r.pick(key, rnd).version for rnd in (0.0, 0.3, 0.7, 0.999)}
        assert len(picked) == 1, key
    # a rebuilt table with the same weights keeps every assignment
    r2 = table({"1.1.0": ("ab", 50)}).models["lab--iris"]
    assert all(r.pick(f"k{i}", 0.5).version == r2.pick(f"k{i}", 0.5).version for i in range(500))


def test_sticky_keys_split_by_weight():
    r = table({"1.1.0": ("ab", 30)}).models["lab--iris"]
    n = 20_000
    hits = Counter(r.pick(f"user-{i}", 0.0).version for i in range(n))
    # binomial test: 30 % of distinct keys go to the challenger
    assert stats.binomtest(hits["1.1.0"], n, 0.30).pvalue > 0.001, hits


def test_random_split_within_bounds():
    import random

    rng = random.Random(7)
    r = table({"1.1.0": ("canary", 10), "1.2.0": ("ab", 25)}).models["lab--iris"]
    n = 20_000
    hits = Counter(r.pick(None, rng.random()).version for _ in range(n))
    observed = [hits["1.0.0"], hits["1.1.0"], hits["1.2.0"]]
    chi = stats.chisquare(observed, [n * 0.65, n * 0.10, n * 0.25])
    assert chi.pvalue > 0.001, observed


def test_oversubscribed_weights_are_scaled_and_champion_gets_none():
    r = table({"1.1.0": ("canary", 80), "1.2.0": ("ab", 80)}).models["lab--iris"]
    assert r.pick_point(49.9).version == "1.1.0"
    assert r.pick_point(50.1).version == "1.2.0"
    assert r.pick_point(99.99).version == "1.2.0"


def test_key_point_is_uniform_and_model_specific():
    pts = [key_point("lab/iris", f"k{i}") for i in range(5000)]
    assert all(0 <= p < 100 for p in pts)
    assert stats.kstest([p / 100 for p in pts], "uniform").pvalue > 0.001
    assert key_point("lab/iris", "k1") != key_point("lab/other", "k1")


def test_fallback_chain():
    r = table({"1.1.0": ("canary", 20)}).models["lab--iris"]
    canary = r.weighted[0]
    assert [v.version for v in r.fallbacks(canary)] == ["1.0.0", "0.9.0"]
    assert [v.version for v in r.fallbacks(r.champion)] == ["0.9.0"]
    r2 = table({}, failover=None).models["lab--iris"]
    assert r2.fallbacks(r2.champion) == []


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"models": {"iris": {"versions": {}}}}, "a model id is 'tenant/name'"),
        ({"models": {"lab/iris": {"versions": {"1": {"role": "boss"}}}}}, "role must be one of"),
        ({"models": {"lab/iris": {"versions": {"1": {"role": "champion"}}}}}, "no upstream URL"),
        ({"upstream": U, "models": {"lab/iris": {"versions": {"1": {"role": "canary"}}}}}, "needs a weight"),
        ({"upstream": U, "models": {"lab/iris": {"versions": {"1": {"role": "shadow"}}}}}, "exactly one version"),
        ([], "expected an object"),
    ],
)
def test_bad_tables_are_refused(doc, message):
    with pytest.raises(TableError, match=message):
        table_from_data(doc)


def test_table_digest_changes_with_weights():
    a = table({"1.1.0": ("canary", 10)})
    b = table({"1.1.0": ("canary", 20)})
    assert a.digest != b.digest and a.digest == table({"1.1.0": ("canary", 10)}).digest


# -- auth ----------------------------------------------------------------------------------------------


def test_keys_from_env_both_forms():
    assert keys_from_env("lab=k" + "x" * 20 + ",clinical=c" + "y" * 20) == [
        ("lab", "k" + "x" * 20), ("clinical", "c" + "y" * 20)]
    assert keys_from_env(json.dumps({"lab": ["a" * 16, "b" * 16]})) == [("lab", "a" * 16), ("lab", "b" * 16)]
    with pytest.raises(InputError, match="at least 16"):
        keys_from_env("lab=short")
    with pytest.raises(InputError, match="tenant=key"):
        keys_from_env("nonsense")


def test_keys_from_secrets_file_with_position(tmp_path: Path):
    (tmp_path / "secrets.yaml").write_text(
        "SLACK_WEBHOOK_LAB: https://hooks.example/x\ngatewayKeys:\n  lab: [lab-key-0123456789]\n  clinical: 12\n"
    )
    with pytest.raises(InputError) as err:
        load_keys(tmp_path, "secrets.yaml", environ={})
    assert err.value.file == "secrets.yaml" and err.value.line == 4
    assert "clinical" in err.value.message and "lab-key" not in err.value.message
    (tmp_path / "secrets.yaml").write_text("gatewayKeys:\n  lab: [lab-key-0123456789]\n")
    store = load_keys(tmp_path, "secrets.yaml", environ={"GOVOPS_GATEWAY_KEYS": "clinical=clin-key-0123456789"})
    assert store.tenants == ["clinical", "lab"]
    assert store.tenant_of("lab-key-0123456789") == "lab"
    assert store.tenant_of("clin-key-0123456789") == "clinical"
    assert store.tenant_of("lab-key-012345678") is None and store.tenant_of("") is None
    assert store.sources == ("secrets.yaml", "GOVOPS_GATEWAY_KEYS")


def test_missing_secrets_file_gives_no_keys(tmp_path: Path):
    assert len(load_keys(tmp_path, "nope.yaml", environ={})) == 0


def test_a_key_for_two_tenants_is_refused(tmp_path: Path):
    with pytest.raises(InputError, match="same gateway key is given to tenants lab and clinical") as err:
        load_keys(tmp_path, None, environ={"GOVOPS_GATEWAY_KEYS": "lab=" + "k" * 20 + ",clinical=" + "k" * 20})
    assert "k" * 20 not in err.value.message


def test_presented_key_headers():
    assert presented_key({"authorization": "Bearer abc"}) == "abc"
    assert presented_key({"authorization": "bearer  abc "}) == "abc"
    assert presented_key({"authorization": "Basic abc"}) is None
    assert presented_key({"x-api-key": "xyz"}) == "xyz"
    assert presented_key({}) is None
    assert KeyStore().tenant_of("anything") is None


# -- V2 payload checks ------------------------------------------------------------------------------------


def body(**over):
    t = {"name": "input-0", "shape": [2, 2], "datatype": "FP64", "data": [1, 2, 3, 4]}
    t.update(over)
    return json.dumps({"inputs": [t]}).encode()


def test_valid_payloads():
    assert parse_infer_request(body())["inputs"][0]["shape"] == [2, 2]
    assert parse_infer_request(body(data=[[1, 2], [3, 4]]))["inputs"][0]["data"] == [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "empty body"),
        (b"{not json", "not valid JSON"),
        (b"[1,2]", "must be a JSON object"),
        (b'{"inputs": []}', "'inputs' must be a non-empty list"),
        (json.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "FP64"}]}).encode(), "has no 'data'"),
        (body(shape=[2, 3]), "shape [2, 3] needs 6 elements, data has 4"),
        (body(shape=[-1, 4]), "non-negative integers"),
        (body(datatype="FLOAT"), "'FLOAT' is not a V2 datatype"),
        (body(data=[[1, 2], 3, 4]), "mixes lists and scalars"),
        (body(name=""), "name must be a non-empty string"),
        (json.dumps({"inputs": [json.loads(body())["inputs"][0]], "outputs": ["predict"]}).encode(),
         "'outputs' must be a list of objects"),
    ],
)
def test_malformed_payloads_say_why(raw, reason):
    with pytest.raises(PayloadError) as err:
        parse_infer_request(raw)
    assert reason in str(err.value)


# -- prediction log ----------------------------------------------------------------------------------------


def exchange(rid: str, ts: int, version: str = "1.0.0", route: str = "champion", proba: bool = False) -> Exchange:
    req = {"inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "FP64", "data": [1.5, 2.5, 3.5, 4.5]}]}
    outs = [{"name": "predict", "shape": [2, 1], "datatype": "INT64", "data": [0, 1]}]
    if proba:
        outs.append({"name": "predict_proba", "shape": [2, 2], "datatype": "FP64", "data": [0.9, 0.1, 0.2, 0.8]})
    return Exchange(request_id=rid, ts_ns=ts, model="lab/iris", version=version, route=route, latency_ms=1.25,
                    status="ok", error=None, request_key="alice", request=req,
                    response=json.dumps({"outputs": outs}).encode(), features=("a", "b"))


def test_exchange_rows_one_per_instance():
    rows = exchange_rows(exchange("r1", 10, proba=True))
    assert len(rows) == 2
    assert rows[0]["row"] == 0 and rows[1]["row"] == 1
    assert rows[0]["in.a"] == 1.5 and rows[0]["in.b"] == 2.5 and rows[1]["in.a"] == 3.5
    assert rows[0]["out.predict"] == 0 and rows[1]["prediction"] == 1
    assert rows[0]["proba"] == 0.1 and rows[1]["proba"] == 0.8
    assert json.loads(rows[1]["out.predict_proba"]) == [0.2, 0.8]


def test_writer_partitions_columns_and_window(tmp_path: Path):
    day1 = 1_790_000_000 * 10**9  # 2026-09-21 UTC
    day2 = day1 + 86_400 * 10**9
    log = PredictionLog(tmp_path, flush_rows=10_000, flush_interval_s=60).start()
    assert log.log_exchange(exchange("r1", day1))
    assert log.log_exchange(exchange("r2", day2, version="1.1.0", route="canary"))
    log.log_feedback([Feedback("lab/iris", "r1", 1, 1.0, ts_ns=day2), Feedback("lab/iris", "r2", 0, 0.0, ts_ns=day2)])
    log.close()
    parts = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
    assert [p.rsplit("/", 1)[0] for p in parts] == [
        "feedback/model=lab--iris/date=2026-09-22",
        "predictions/model=lab--iris/date=2026-09-21",
        "predictions/model=lab--iris/date=2026-09-22",
    ]
    assert all(p.rsplit("/", 1)[1].startswith("part-") for p in parts)
    schema = pq.read_schema(tmp_path / parts[1])
    for name, typ in BASE_COLUMNS:
        assert schema.field(name).type == typ, name
    assert {"in.a", "in.b", "out.predict", "prediction", "proba"} <= set(schema.names)
    whole = read_window(tmp_path, "lab/iris", day1, day2 + 1)
    assert whole.num_rows == 4 and set(whole.column("model").to_pylist()) == {"lab/iris"}
    only_day2 = read_window(tmp_path, "lab/iris", day1 + 1, day2 + 1)
    assert only_day2.column("request_id").to_pylist() == ["r2", "r2"]
    assert only_day2.column("route").to_pylist() == ["canary", "canary"]
    joined = join_feedback(whole, read_feedback(tmp_path, "lab/iris", 0, day2 + 1))
    labels = {(r["request_id"], r["row"]): r["label"] for r in joined.to_pylist()}
    assert labels == {("r1", 0): None, ("r1", 1): 1.0, ("r2", 0): 0.0, ("r2", 1): None}
    assert read_window(tmp_path, "lab/other", 0, day2 + 1).num_rows == 0


def test_writer_flushes_by_size_and_time(tmp_path: Path):
    log = PredictionLog(tmp_path, flush_rows=4, flush_interval_s=0.3).start()
    now = time.time_ns()
    for i in range(3):
        log.log_exchange(exchange(f"r{i}", now))  # 6 rows: one part of 4+ rows at once
    deadline = time.monotonic() + 5
    while log.parts_written < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.parts_written == 2  # the size-triggered part, then the time-triggered rest
    assert read_window(tmp_path, "lab/iris", 0, now + 1).num_rows == 6
    log.close()


def test_writer_never_blocks_and_counts_drops(tmp_path: Path):
    log = PredictionLog(tmp_path, max_queue=3)  # not started: nothing drains the queue
    # nothing drains the queue: a blocking put would never return; these return, 7 of them refused
    results = [log.log_exchange(exchange(f"r{i}", 1)) for i in range(10)]
    assert results.count(True) == 3 and log.dropped == 7
    log.close()
    assert read_window(tmp_path, "lab/iris", 0, 2).num_rows == 6


def test_sampling_rate(tmp_path: Path):
    log = PredictionLog(tmp_path, sample_rate=0.2)
    kept = sum(log.sampled() for _ in range(10_000))
    assert stats.binomtest(kept, 10_000, 0.2).pvalue > 0.001
    assert not any(PredictionLog(tmp_path, sample_rate=0.0).sampled() for _ in range(1000))
    with pytest.raises(ValueError):
        PredictionLog(tmp_path, sample_rate=1.5)


def test_shutdown_override_reroutes_the_rollout_state(tmp_path, monkeypatch):
    """Monitoring's automatic shutdown writes an override; the gateway's table obeys it at once."""
    from engine.gateway.overrides import overrides_path, set_override
    from engine.gateway.table import load_table, watched_files

    monkeypatch.delenv("GOVOPS_SERVING_DIR", raising=False)
    serving = tmp_path / ".govops" / "serving"
    serving.mkdir(parents=True)
    state = {"commit": None, "models": {"clinical/readmission-triage": {"versions": {
        "1.1.0": {"role": "champion"}, "2.0.0": {"role": "canary", "weight": 10}, "1.0.0": {"role": "failover"}}}}}
    (serving / "state.json").write_text(json.dumps(state))
    (serving / "server.json").write_text(json.dumps(
        {"pid": 1, "url": "http://127.0.0.1:9", "http_port": 9, "grpc_port": 10, "metrics_port": 11, "started": 0}))
    before = load_table(tmp_path).models["clinical--readmission-triage"]
    assert before.champion.version == "1.1.0"
    assert [v.version for v in before.weighted] == ["2.0.0"]
    assert before.failover is not None and before.failover.version == "1.0.0"
    assert overrides_path(tmp_path) in watched_files(tmp_path, None)
    set_override(tmp_path, "clinical/readmission-triage", {"action": "failover", "version": "1.0.0", "reason": "drift"})
    after = load_table(tmp_path).models["clinical--readmission-triage"]
    assert after.champion.version == "1.0.0"
    assert after.weighted == () and after.shadows == () and after.failover is None


# -- hardening (issue #15, hole 10): paths, key length, key ids, private state files ----------------------


@pytest.mark.parametrize("raw", [
    b"/v2/models/m/versions/%2e%2e/infer", b"/v2/models/m/versions/%2E%2e/infer", b"/v2/models/m/versions/../infer",
    b"/v2/models/m/versions/./infer", b"/v2/models/m/versions/%252e%252e/infer", b"/v2/models/%2f..%2f/infer",
    b"/v2/models/m/versions/a%5cb/infer", b"/v2/models/m\\..\\x/infer", b"/v2/models/m/versions/%0d%0a/infer",
    b"/v2/models/m/versions/a%00b/infer", b"/v2/models/m/versions/a%7f/infer", b"/v2/models/m/versions/a%1b/infer",
    b"/..", b"/v2/models/m/versions/1.0.0/infer/..",
])
def test_path_problem_refuses_dots_encodings_and_controls(raw: bytes):
    from engine.gateway.guard import path_problem

    problem = path_problem(raw)
    assert problem is not None and "path" in problem


@pytest.mark.parametrize("raw", [
    b"/v2/models/lab--iris/versions/1.0.0/infer", b"/v2/models/lab--iris/versions/1.0.0-rc.1+b2/ready",
    b"/v2/models/lab--iris/infer", b"/metrics", b"/v2", b"/v2/models/lab--iris/versions/1..2/infer",
    b"/v2/models/lab%2Diris/infer",
])
def test_path_problem_lets_ordinary_paths_through(raw: bytes):
    from engine.gateway.guard import path_problem

    assert path_problem(raw) is None


def test_long_keys_are_refused_and_key_ids_are_short_hashes():
    import hashlib

    from engine.gateway.auth import MAX_KEY_BYTES, key_id

    long_key = "a" * (MAX_KEY_BYTES + 1)
    store = KeyStore(entries=((b"lab-key-0123456789abcdef", "lab"),))
    assert store.tenant_of("lab-key-0123456789abcdef") == "lab"
    assert store.tenant_of(long_key) is None
    with pytest.raises(InputError, match=f"at most {MAX_KEY_BYTES} bytes"):
        keys_from_env(f"lab={long_key}")
    assert key_id("user-1") == hashlib.sha256(b"user-1").hexdigest()[:12]
    assert len(key_id("x" * 10_000)) == 12


def test_gateway_state_and_overrides_are_private(tmp_path: Path):
    import os

    from engine.gateway.app import GatewayConfig, build_gateway
    from engine.gateway.overrides import overrides_path, set_override
    from engine.gateway.server import write_state

    path = tmp_path / ".govops" / "gateway.json"
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    os.chmod(path, 0o644)  # left by an older version
    gw = build_gateway(GatewayConfig(root=tmp_path, keys=None), table_from_data({"models": {}}))
    assert write_state(tmp_path, gw, "http://127.0.0.1:1") == path
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["reload_token"] == gw.config.reload_token
    set_override(tmp_path, "lab/iris", {"action": "stop", "version": None})
    assert overrides_path(tmp_path).stat().st_mode & 0o777 == 0o600


# -- red-team findings on the gateway (net-fixes) ------------------------------------------------------


def test_explicit_calls_reach_only_live_versions():
    """#1/#2: the champion and weighted challengers; never a shadow, the failover, a 0% canary or an unrouted id."""
    t = table_from_data({"upstream": U, "models": {"lab/iris": {"versions": {
        "1.0.0": {"role": "champion"}, "1.1.0": {"role": "canary", "weight": 10},
        "1.2.0": {"role": "canary", "weight": 0}, "2.0.0-rc1": {"role": "shadow"}, "0.9.0": {"role": "failover"}}}}})
    route = t.models["lab--iris"]
    assert route.explicit("1.0.0") is route.champion
    assert route.explicit("1.1.0") is not None and route.explicit("1.1.0").role == "canary"
    for hidden in ("1.2.0", "2.0.0-rc1", "0.9.0", "7.7.7"):
        assert route.explicit(hidden) is None, hidden


def test_an_override_takes_the_shut_down_version_out_of_explicit_calls():
    from engine.gateway.overrides import apply_overrides

    doc = {"upstream": U, "models": {"lab/iris": {"versions": {"2.0.0": {"role": "champion"},
                                                               "1.0.0": {"role": "failover"}}}}}
    route = table_from_data(apply_overrides(doc, {"lab/iris": {"action": "failover", "version": "1.0.0"}}))
    m = route.models["lab--iris"]
    assert m.explicit("2.0.0") is None and m.explicit("1.0.0") is m.champion


def test_tenant_and_model_names_may_not_hold_a_double_dash():
    """#3: 'lab--eu'/'x' and 'lab'/'eu--x' would share the MLServer name lab--eu--x."""
    from pydantic import ValidationError

    from engine.spec.config import Governance
    from engine.spec.model import Metadata

    for tenant, name in (("lab--eu", "iris"), ("lab", "eu--iris")):
        with pytest.raises(ValidationError, match="pattern"):
            Metadata.model_validate({"name": name, "tenant": tenant, "owners": ["a"]})
    assert Metadata.model_validate({"name": "iris-species", "tenant": "lab-eu", "owners": ["a"]})
    with pytest.raises(ValidationError, match="pattern"):
        Governance.model_validate({"tiers": {"low": {}}, "tenants": {"lab--eu": {"paths": ["specs/x/"]}}})
    with pytest.raises(TableError, match="MLServer name 'lab--eu--iris'"):
        table_from_data({"upstream": U, "models": {"lab/eu--iris": {"versions": {"1": {"role": "champion"}}},
                                                   "lab--eu/iris": {"versions": {"1": {"role": "champion"}}}}})


def test_a_shape_of_many_huge_dimensions_is_refused_at_once():
    """#12: 60,000 dimensions of 2**62 took 13 s of bigint products on the event loop, then a 500."""
    huge = b'{"inputs":[{"name":"a","shape":[' + b",".join([b"4611686018427387904"] * 60000) + \
        b'],"datatype":"FP64","data":[1]}]}'
    t0 = time.monotonic()
    with pytest.raises(PayloadError, match="at most 8 dimensions"):
        parse_infer_request(huge)
    assert time.monotonic() - t0 < 5  # generous; the old code took 13 s
    with pytest.raises(PayloadError, match="at most 8 dimensions"):
        parse_infer_request(json.dumps({"inputs": [{"name": "a", "shape": [2**31, 1], "datatype": "FP64",
                                                    "data": [1]}]}).encode())


def test_a_shape_with_no_elements_is_refused_and_logged_as_one_row():
    """#13: shape [10**12, 0] with no data passed, and the log writer looped 10**12 times."""
    body = json.dumps({"inputs": [{"name": "a", "shape": [10**12, 0], "datatype": "FP64", "data": []}]}).encode()
    with pytest.raises(PayloadError, match="at most 8 dimensions of at most"):
        parse_infer_request(body)
    with pytest.raises(PayloadError, match="at least one element"):
        parse_infer_request(body.replace(b"1000000000000", b"1000000"))
    ex = Exchange("r", 1, "lab/iris", "1.0.0", "champion", 1.0, "ok", None, None, json.loads(body), None)
    assert len(exchange_rows(ex)) == 1  # the row count comes from the data sent, never from the shape alone


def test_a_huge_request_is_logged_truncated():
    """#10: a million-row request became a million row dicts (+664 MB); now a capped, marked log."""
    from engine.gateway.predlog import MAX_LOG_ROWS

    n = 1_000_000
    doc = {"inputs": [{"name": "a", "shape": [n, 1], "datatype": "FP64", "data": [0] * n}]}
    ex = Exchange("r", 1, "lab/iris", "1.0.0", "champion", 1.0, "ok", None, None, doc, None, ("a",))
    rows = exchange_rows(ex)
    assert len(rows) == MAX_LOG_ROWS
    assert rows[0]["truncated_rows"] == n - MAX_LOG_ROWS and rows[0]["truncated"] == 1.0
    small = exchange_rows(Exchange("r", 1, "lab/iris", "1.0.0", "champion", 1.0, "ok", None, None,
                                   {"inputs": [{"name": "a", "shape": [2, 1], "datatype": "FP64", "data": [1, 2]}]},
                                   None, ("a",)))
    assert [r["in.a"] for r in small] == [1, 2] and "truncated" not in small[0]


def test_the_log_queue_is_bounded_by_bytes(tmp_path):
    log = PredictionLog(tmp_path / "logs", max_queue_bytes=1000)
    ex = Exchange("r", 1, "lab/iris", "1.0.0", "champion", 1.0, "ok", None, None, None, None, size=600)
    assert log.log_exchange(ex) is True
    assert log.log_exchange(ex) is False and log.dropped == 1
    log.close()
    assert log.log_exchange(ex) is True  # the writer took the first one: its bytes are free again


def test_log_parts_and_folders_are_private(tmp_path):
    """#9: the log holds callers' inputs; it was 0644 in 0755 folders."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        log = PredictionLog(tmp_path / "logs")
        log.log_exchange(Exchange("r", time.time_ns(), "lab/iris", "1.0.0", "champion", 1.0, "ok", None, None,
                                  {"inputs": [{"name": "a", "shape": [1, 1], "datatype": "FP64", "data": [9.5]}]},
                                  None, ("a",)))
        log.close()
    finally:
        os.umask(old)
    parts = list((tmp_path / "logs").rglob("*.parquet"))
    assert len(parts) == 1
    assert stat.S_IMODE(parts[0].stat().st_mode) == 0o600
    folder = parts[0].parent
    while folder != tmp_path:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        folder = folder.parent


def test_a_tenant_scrape_holds_only_its_own_models():
    """#6 (unit): the metrics seen with one tenant's key."""
    from engine.gateway.metrics import GatewayMetrics

    m = GatewayMetrics()
    m.requests.labels("lab/iris", "1.0.0", "champion", "200").inc()
    m.requests.labels("clinical/triage", "3.1.0", "champion", "200").inc()
    m.rejected.labels("forbidden").inc()
    lab = m.render("lab").decode()
    assert 'model="lab/iris"' in lab and "clinical/" not in lab and "rejected" not in lab
    everything = m.render().decode()
    assert "clinical/triage" in everything and "govops_gateway_rejected_total" in everything


def test_feature_names_may_not_hold_control_characters():
    """#7: a CR/LF in a feature name reached an email header and stopped every monitoring pass."""
    from pydantic import ValidationError

    from engine.spec.model import Feature

    with pytest.raises(ValidationError, match="pattern"):
        Feature.model_validate({"name": "petal_width\r\nBcc: spy@evil.test", "type": "float"})
    assert Feature.model_validate({"name": "petal width/cm", "type": "float"})

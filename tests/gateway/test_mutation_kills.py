"""Tests that kill mutants of tenant admission in the gateway (issue 22, ``make mutate``).

``engine.gateway.auth`` maps a presented key to one tenant; these tests assert which tenant (or
none) each key names and the exact refusals of malformed key configuration.
"""

from __future__ import annotations

import pytest

from engine.gateway.auth import KeyStore, key_id, keys_from_env, presented_key
from engine.spec.errors import InputError

LAB = "lab-key-0123456789abcdef"
LAB_EU = "lab-eu-key-0123456789abcdef"


def test_presented_key_from_either_header() -> None:
    assert presented_key({"authorization": f"Bearer {LAB}"}) == LAB
    assert presented_key({"authorization": f"bearer   {LAB}  "}) == LAB
    assert presented_key({"x-api-key": f" {LAB} "}) == LAB
    assert presented_key({"authorization": "Basic abc", "x-api-key": LAB}) == LAB
    assert presented_key({"authorization": "Bearer   "}) is None
    assert presented_key({"x-api-key": "   "}) is None
    assert presented_key({}) is None


def test_a_key_names_exactly_its_tenant() -> None:
    store = KeyStore(entries=((LAB.encode(), "lab"), (LAB_EU.encode(), "lab-eu")))
    assert store.tenant_of(LAB) == "lab"
    assert store.tenant_of(LAB_EU) == "lab-eu"
    assert store.tenant_of(LAB[:-1]) is None
    assert store.tenant_of(LAB + "x") is None
    assert store.tenant_of("") is None and store.tenant_of(None) is None
    assert store.tenants == ["lab", "lab-eu"] and len(store) == 2


def test_keys_from_env_in_both_forms() -> None:
    assert keys_from_env(f"lab={LAB}, lab-eu={LAB_EU}") == [("lab", LAB), ("lab-eu", LAB_EU)]
    assert keys_from_env(f'{{"lab": ["{LAB}"], "lab-eu": "{LAB_EU}"}}') == [("lab", LAB), ("lab-eu", LAB_EU)]
    assert keys_from_env("   ") == []
    with pytest.raises(InputError, match="expected tenant=key"):
        keys_from_env(f"lab{LAB}")


def test_key_id_is_a_short_stable_digest() -> None:
    assert key_id(LAB) == key_id(LAB) and len(key_id(LAB)) == 12 and key_id(LAB) != key_id(LAB_EU)


# --- more of auth.py --------------------------------------------------------------------------------

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from engine.gateway.auth import (  # noqa: E402
    ENV_KEYS,
    FILE_ENTRY,
    KEY_ID_LENGTH,
    MAX_KEY_BYTES,
    MIN_KEY_LENGTH,
    keys_from_file,
    load_keys,
)


def test_key_limits() -> None:
    assert (ENV_KEYS, FILE_ENTRY, MIN_KEY_LENGTH, MAX_KEY_BYTES, KEY_ID_LENGTH) == (
        "GOVOPS_GATEWAY_KEYS", "gatewayKeys", 16, 256, 12)
    assert keys_from_env("lab=" + "k" * 16) == [("lab", "k" * 16)]
    with pytest.raises(InputError) as caught:
        keys_from_env("lab=" + "k" * 15)
    assert caught.value.message == "GOVOPS_GATEWAY_KEYS.lab[0]: a key must be at least 16 characters"
    assert keys_from_env("lab=" + "é" * 128) == [("lab", "é" * 128)]  # 256 bytes
    with pytest.raises(InputError) as caught:
        keys_from_env("lab=" + "k" * 16 + ",lab=" + "é" * 128 + "x")
    assert caught.value.message == "GOVOPS_GATEWAY_KEYS.lab[1]: a key must be at most 256 bytes"


def test_the_longest_key_is_compared_and_a_longer_one_refused() -> None:
    longest = "é" * 128  # 256 bytes
    store = KeyStore(entries=((longest.encode(), "lab"),))
    assert store.tenant_of(longest) == "lab"
    assert store.tenant_of(longest + "x") is None


def test_the_last_matching_entry_names_the_tenant_and_every_entry_is_compared() -> None:
    # load_keys never builds two entries for one key; tenant_of must still not stop early at a non-match
    store = KeyStore(entries=((b"other-key-0123456789", "a"), (LAB.encode(), "lab")))
    assert store.tenant_of(LAB) == "lab"


@pytest.mark.parametrize(("value", "message"), [
    ('{"lab": 3}', "GOVOPS_GATEWAY_KEYS.lab: expected a list of keys (strings)"),
    ('{"lab": [3]}', "GOVOPS_GATEWAY_KEYS.lab: expected a list of keys (strings)"),
    ('["lab"]', "GOVOPS_GATEWAY_KEYS: expected tenant=key[,tenant=key…] or a JSON object"),  # not an object
])
def test_keys_from_env_json_refusals(value: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        keys_from_env(value)
    assert caught.value.message == message


def test_keys_from_env_bad_json_does_not_echo_the_keys() -> None:
    with pytest.raises(InputError) as caught:
        keys_from_env('{"lab": ["' + LAB + '"')
    assert caught.value.message.startswith("GOVOPS_GATEWAY_KEYS is not valid JSON (JSONDecodeError at char")
    assert LAB not in caught.value.message


@pytest.mark.parametrize("item", ["=" + LAB, "lab=", "lab" + LAB])
def test_keys_from_env_pair_refusals(item: str) -> None:
    with pytest.raises(InputError) as caught:
        keys_from_env(f"lab-eu={LAB_EU},{item}")
    assert caught.value.message == "GOVOPS_GATEWAY_KEYS: expected tenant=key[,tenant=key…] or a JSON object"


def test_keys_from_env_groups_a_tenants_keys_and_trims() -> None:
    other = "other-key-0123456789"
    assert keys_from_env(f"  lab = {LAB} , lab-eu={LAB_EU},lab={other}  ") == [
        ("lab", LAB), ("lab", other), ("lab-eu", LAB_EU)]


def test_keys_from_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    assert keys_from_file(path, "s.yaml") == []
    path.write_text("other: 1\n")
    assert keys_from_file(path, "s.yaml") == []
    path.write_text(f"gatewayKeys:\n  lab: {LAB}\n  lab-eu: [{LAB_EU}]\n")
    assert keys_from_file(path, "s.yaml") == [("lab", LAB), ("lab-eu", LAB_EU)]
    path.write_text("- a\n")
    with pytest.raises(InputError) as caught:
        keys_from_file(path, "s.yaml")
    assert caught.value.message == "s.yaml: the secrets file must be a mapping"
    assert (caught.value.file, caught.value.line, caught.value.col) == ("s.yaml", 1, 1)


def test_keys_from_file_points_at_the_bad_tenant(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"gatewayKeys:\n  lab: [{LAB}]\n  lab-eu:\n    - short\n")
    with pytest.raises(InputError) as caught:
        keys_from_file(path, "s.yaml")
    assert caught.value.message == "gatewayKeys.lab-eu[0]: a key must be at least 16 characters"
    assert (caught.value.file, caught.value.line) == ("s.yaml", 3)
    path.write_text("x: 1\ngatewayKeys: [a]\n")
    with pytest.raises(InputError) as caught:
        keys_from_file(path, "s.yaml")
    assert caught.value.message == "gatewayKeys: expected a mapping of tenant to a list of keys"
    assert (caught.value.file, caught.value.line) == ("s.yaml", 2)


def test_load_keys_merges_file_and_environment(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(json.dumps({"gatewayKeys": {"lab": [LAB]}}))
    store = load_keys(tmp_path, "s.yaml", environ={ENV_KEYS: f"lab-eu={LAB_EU}"})
    assert store.entries == ((LAB.encode(), "lab"), (LAB_EU.encode(), "lab-eu"))
    assert store.sources == ("s.yaml", ENV_KEYS)
    absolute = load_keys(Path("/nonexistent"), str(tmp_path / "s.yaml"), environ={})
    assert absolute.entries == ((LAB.encode(), "lab"),) and absolute.sources == (str(tmp_path / "s.yaml"),)
    (tmp_path / "empty.yaml").write_text("gatewayKeys: {}\n")
    assert load_keys(tmp_path, "empty.yaml", environ={}).sources == ()
    assert load_keys(tmp_path, None, environ={ENV_KEYS: f"lab={LAB}"}).sources == (ENV_KEYS,)
    # the same key twice for one tenant is one entry
    twice = load_keys(tmp_path, "s.yaml", environ={ENV_KEYS: f"lab={LAB}"})
    assert twice.entries == ((LAB.encode(), "lab"),)


def test_load_keys_refuses_one_key_for_two_tenants(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(json.dumps({"gatewayKeys": {"lab": [LAB]}}))
    with pytest.raises(InputError) as caught:
        load_keys(tmp_path, "s.yaml", environ={ENV_KEYS: f"lab-eu={LAB}"})
    assert caught.value.message == ("the same gateway key is given to tenants lab and lab-eu; keys must be unique")


# --- admission: Gateway._authorise --------------------------------------------------------------------

from starlette.requests import Request  # noqa: E402

from engine.gateway.app import GatewayConfig, build_gateway  # noqa: E402
from engine.gateway.routing import table_from_data  # noqa: E402

KEYS = KeyStore(entries=((LAB.encode(), "lab"), (LAB_EU.encode(), "lab-eu")))
UP = "http://127.0.0.1:9"


def gateway(tmp_path: Path, keys: KeyStore | None = KEYS):
    versions = {"1.0.0": {"role": "champion"}}
    doc = {"upstream": UP, "models": {"lab/iris": {"versions": versions}, "lab-eu/iris": {"versions": versions}}}
    return build_gateway(GatewayConfig(root=tmp_path, keys=keys, log=None), table_from_data(doc))


def request(key: str | None = None, routing_key: str | None = None) -> Request:
    headers = []
    if key is not None:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    if routing_key is not None:
        headers.append((b"x-govops-key", routing_key.encode()))
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


def refusal(gw, req: Request, name: str) -> tuple[int, str, dict]:
    route, response = gw._authorise(req, name)
    assert route is None and response is not None
    return response.status_code, json.loads(response.body)["error"], dict(response.headers)


def rejected(gw, reason: str) -> float:
    return gw.metrics.rejected.labels(reason)._value.get()


@pytest.mark.parametrize(("key", "name"), [(LAB, "lab--iris"), (LAB_EU, "lab-eu--iris")])
def test_a_key_is_admitted_to_its_own_tenants_models(tmp_path: Path, key: str, name: str) -> None:
    gw = gateway(tmp_path)
    route, response = gw._authorise(request(key), name)
    assert response is None and route is not None and route.name == name


@pytest.mark.parametrize(("key", "tenant", "name"), [
    (LAB, "lab", "lab-eu--iris"), (LAB_EU, "lab-eu", "lab--iris"), (LAB, "lab", "lab-eu--unrouted"),
    (LAB, "lab", "other--x"),
])
def test_a_key_is_refused_on_another_tenants_models(tmp_path: Path, key: str, tenant: str, name: str) -> None:
    gw = gateway(tmp_path)
    status, message, _ = refusal(gw, request(key), name)
    assert status == 403
    assert message == (f"this key belongs to tenant '{tenant}' and may only call that tenant's routed models "
                       f"({tenant}--NAME)")
    assert rejected(gw, "forbidden") == 1.0


def test_an_unrouted_model_in_the_callers_namespace_is_not_found(tmp_path: Path) -> None:
    gw = gateway(tmp_path)
    status, message, _ = refusal(gw, request(LAB), "lab--nope")
    assert (status, message) == (404, "model 'lab--nope' is not routed by this gateway")
    assert rejected(gw, "unknown_model") == 1.0 and rejected(gw, "forbidden") == 0.0
    gw.table_error = "bad yaml"
    assert refusal(gw, request(LAB), "lab--nope")[1] == (
        "model 'lab--nope' is not routed by this gateway (routing table not loaded: bad yaml)")


@pytest.mark.parametrize("key", [None, "wrong-key-0123456789abcdef"])
def test_no_key_or_an_unknown_key_is_unauthenticated(tmp_path: Path, key: str | None) -> None:
    gw = gateway(tmp_path)
    status, message, headers = refusal(gw, request(key), "lab--iris")
    assert status == 401
    assert message == "missing or invalid API key (send Authorization: Bearer KEY or X-Api-Key)"
    assert headers["www-authenticate"] == 'Bearer realm="govops"'
    assert rejected(gw, "unauthenticated") == 1.0


def test_without_keys_every_routed_model_is_admitted(tmp_path: Path) -> None:
    gw = gateway(tmp_path, keys=None)
    route, response = gw._authorise(request(), "lab-eu--iris")
    assert response is None and route is not None and route.tenant == "lab-eu"
    assert refusal(gw, request(), "lab--nope")[0] == 404


def test_a_long_routing_key_or_a_bad_model_name_is_a_bad_request(tmp_path: Path) -> None:
    gw = gateway(tmp_path)
    status, message, _ = refusal(gw, request(LAB, routing_key="r" * 257), "lab--iris")
    assert (status, message) == (400, "X-Govops-Key is longer than 256 bytes")
    route, response = gw._authorise(request(LAB, routing_key="r" * 256), "lab--iris")
    assert response is None and route is not None
    status, message, _ = refusal(gw, request(LAB), "-lab--iris")
    assert (status, message) == (400, "the model name in the path is not a model name (tenant--name)")
    assert rejected(gw, "bad_request") == 2.0


# --- guard.py: paths that could name something else upstream ------------------------------------------

import asyncio  # noqa: E402

from engine.gateway.guard import PathGuard, path_problem  # noqa: E402


@pytest.mark.parametrize(("raw", "problem"), [
    (b"/v2/models/lab--iris/infer", None),
    (b"/v2/models/lab--iris/versions/1.0.0/infer", None),
    (b"/v2/models/a%41b/infer", None),  # an encoded letter is harmless
    (b"/v2/models/x/versions/%2e%2e/infer", "the request path holds an encoded dot ('%2e')"),
    (b"/v2/models/x/versions/%2E/infer", "the request path holds an encoded dot ('%2E')"),
    (b"/v2/models/x%2finfer", "the request path holds an encoded slash ('%2f')"),
    (b"/v2/models/x%5Cinfer", "the request path holds an encoded backslash ('%5C')"),
    (b"/v2/models/x%252e", "the request path holds an encoded percent sign (double encoding) ('%25')"),
    (b"/v2/models/x\\y", "the request path holds a backslash"),
    (b"/v2/models/x%0d%0a/infer", "the request path holds a control character"),
    (b"/v2/models/x%00", "the request path holds a control character"),
    (b"/v2/models/x%1f", "the request path holds a control character"),
    (b"/v2/models/x%7f", "the request path holds a control character"),
    (b"/v2/models/x%20y", None),  # a space (0x20) is no control character
    (b"/v2/models/x/../infer", "the request path holds a '..' segment (segment 4)"),
    (b"/./v2", "the request path holds a '.' segment (segment 1)"),
    (b"/v2/models/x.y/...", None),
])
def test_path_problem(raw: bytes, problem: str | None) -> None:
    assert path_problem(raw) == problem


def run_guard(scope: dict, metrics_only=None) -> tuple[list[dict], list[str], bool]:
    sent: list[dict] = []
    refusals: list[str] = []
    reached: list[bool] = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {}

    async def app(got_scope, got_receive, got_send) -> None:
        # the request is passed on as it came: same scope, same channels
        assert got_scope is scope and got_receive is receive and got_send is send
        reached.append(True)

    guard = PathGuard(app, metrics_only=metrics_only, on_refusal=refusals.append)
    asyncio.run(guard(scope, receive, send))
    return sent, refusals, bool(reached)


def test_the_guard_passes_a_path_it_cannot_decode_as_utf8_on_as_bytes() -> None:
    # Starlette hands a path that was not UTF-8 as surrogate escapes; the guard reads it back byte for byte
    assert run_guard({"type": "http", "path": "/v2/models/\udcff"})[2]
    assert run_guard({"type": "http"})[2]  # no path at all: nothing to refuse
    sent, refusals, reached = run_guard({"type": "http", "path": "/v2/\udcff/../x"})
    assert not reached and sent[0]["status"] == 400


def test_the_guard_cuts_the_query_at_the_first_question_mark() -> None:
    assert run_guard({"type": "http", "raw_path": b"/v2?/../?x", "path": "/v2"})[2]


def test_the_metrics_only_test_sees_the_request() -> None:
    def only_port_9(scope) -> bool:
        return scope["server"][1] == 9

    sent, _, reached = run_guard({"type": "http", "raw_path": b"/v2", "path": "/v2", "server": ("h", 9)},
                                 metrics_only=only_port_9)
    assert not reached and sent[0]["status"] == 404
    assert run_guard({"type": "http", "raw_path": b"/v2", "path": "/v2", "server": ("h", 8)},
                     metrics_only=only_port_9)[2]


def test_the_guard_answers_a_bad_path_with_400_and_counts_it() -> None:
    sent, refusals, reached = run_guard({"type": "http", "raw_path": b"/v2/models/x/../infer?q=%2e", "path": "/"})
    assert not reached and refusals == ["bad_path"]
    body = json.dumps({"error": "the request path holds a '..' segment (segment 4); send the model name and "
                                "version as they are"}, separators=(",", ":")).encode()
    assert sent == [
        {"type": "http.response.start", "status": 400,
         "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]},
        {"type": "http.response.body", "body": body},
    ]


def test_the_guard_reads_the_query_off_and_falls_back_to_the_path() -> None:
    assert run_guard({"type": "http", "raw_path": b"/v2?x=%2e%2e", "path": "/v2"})[2]
    sent, refusals, reached = run_guard({"type": "http", "path": "/v2/models/../x"})
    assert not reached and refusals == ["bad_path"] and sent[0]["status"] == 400
    assert run_guard({"type": "websocket", "raw_path": b"/../x"})[2]  # only http is judged
    assert run_guard({"type": "lifespan"})[2]


def test_a_metrics_only_listener_serves_only_metrics() -> None:
    only = lambda scope: True  # noqa: E731
    sent, refusals, reached = run_guard({"type": "http", "raw_path": b"/v2", "path": "/v2"}, metrics_only=only)
    assert not reached and refusals == [] and sent[0]["status"] == 404
    assert json.loads(sent[1]["body"]) == {"error": "this listener serves /metrics only"}
    assert run_guard({"type": "http", "raw_path": b"/metrics", "path": "/metrics"}, metrics_only=only)[2]
    assert run_guard({"type": "http", "raw_path": b"/v2", "path": "/v2"}, metrics_only=lambda s: False)[2]


# --- survivors of the first `make mutate` run --------------------------------------------------------


def test_a_key_may_hold_an_equals_sign() -> None:
    padded = "bGFiLWtleS0wMTIzNDU2Nzg5YWJj=="  # base64 keys end in '='
    assert keys_from_env(f"lab={padded}") == [("lab", padded)]


def test_a_secrets_file_that_is_not_yaml_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("gatewayKeys: [unclosed\n")
    with pytest.raises(InputError) as caught:
        keys_from_file(path, "secrets/s.yaml")
    assert caught.value.file == "secrets/s.yaml"


def test_a_bad_key_in_the_secrets_file_has_a_column(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"gatewayKeys:\n  lab: [{LAB}]\n  lab-eu:\n    - short\n")
    with pytest.raises(InputError) as caught:
        keys_from_file(path, "s.yaml")
    assert (caught.value.line, caught.value.col) == (3, 3)

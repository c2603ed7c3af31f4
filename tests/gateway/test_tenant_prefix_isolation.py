"""Tenant isolation between tenants whose names share a prefix: ``lab`` and ``lab-eu`` (issue #22).

No two tenants elsewhere in the suite share a prefix, so a gateway that matched a caller's
tenant by model-name prefix passed every test. Here each tenant's key must be refused (403)
on the other tenant's routed models and on unrouted names in the other's namespace, and
admitted to its own. The gateway runs for real under uvicorn on a socket it was handed;
the upstream is a closed port, so an admitted call ends in an upstream error, never a 403.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from engine.gateway.app import GatewayConfig, build_gateway
from engine.gateway.auth import KeyStore
from engine.gateway.routing import table_from_data
from tests.helpers.gateway_helpers import FEATURES, serve_in_thread, v2_body

LAB_KEY = "lab-key-0123456789abcdef"
LAB_EU_KEY = "lab-eu-key-0123456789abcdef"
KEYS = KeyStore(entries=((LAB_KEY.encode(), "lab"), (LAB_EU_KEY.encode(), "lab-eu")))
CLOSED = "http://127.0.0.1:9"  # discard port: nothing listens on loopback


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    versions = {"1.0.0": {"role": "champion"}}
    doc = {"upstream": CLOSED, "models": {
        "lab/iris": {"inputs": FEATURES, "versions": versions},
        "lab-eu/iris": {"inputs": FEATURES, "versions": versions},
        "lab-eu/eu-only": {"inputs": FEATURES, "versions": versions},
    }}
    gw = build_gateway(GatewayConfig(root=tmp_path_factory.mktemp("gw"), keys=KEYS, log=None, timeout_s=2.0),
                       table_from_data(doc))
    with serve_in_thread(gw) as u:
        yield u


def call(url: str, model: str, key: str, what: str = "infer") -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if what == "infer":
        return requests.post(f"{url}/v2/models/{model}/infer", json=v2_body(), headers=headers, timeout=30)
    if what == "feedback":
        return requests.post(f"{url}/v2/models/{model}/feedback", json={"request_id": "x", "label": 1},
                             headers=headers, timeout=30)
    return requests.get(f"{url}/v2/models/{model}", headers=headers, timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("what", ["infer", "feedback", "metadata"])
@pytest.mark.parametrize(("key", "tenant", "foreign"), [
    (LAB_KEY, "lab", "lab-eu--iris"),
    (LAB_KEY, "lab", "lab-eu--eu-only"),
    (LAB_EU_KEY, "lab-eu", "lab--iris"),
])
def test_a_key_is_refused_on_the_prefix_sharing_tenant(url: str, key: str, tenant: str, foreign: str,
                                                       what: str) -> None:
    r = call(url, foreign, key, what)
    assert r.status_code == 403, (r.status_code, r.text)
    assert f"tenant '{tenant}'" in r.json()["error"]


@pytest.mark.slow
@pytest.mark.parametrize(("key", "foreign"), [(LAB_KEY, "lab-eu--unrouted"), (LAB_EU_KEY, "lab--unrouted")])
def test_unrouted_names_of_the_other_tenant_are_forbidden_not_missing(url: str, key: str, foreign: str) -> None:
    assert call(url, foreign, key).status_code == 403


@pytest.mark.slow
@pytest.mark.parametrize(("key", "own"), [(LAB_KEY, "lab--iris"), (LAB_EU_KEY, "lab-eu--iris"),
                                          (LAB_EU_KEY, "lab-eu--eu-only")])
def test_a_key_is_admitted_to_its_own_tenant(url: str, key: str, own: str) -> None:
    for what in ("infer", "feedback", "metadata"):
        r = call(url, own, key, what)
        # admitted: the closed upstream (or the feedback log) answers, not the gate
        assert r.status_code not in (401, 403, 404), (what, r.status_code, r.text)

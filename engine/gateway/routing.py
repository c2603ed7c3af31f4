"""The gateway's routing table: which version of a model answers a request.

Serving stage. Pure data and pure functions: built from the specs' deployment
sections as rolled out (champion, canary/ab weights, shadows, failover) and the
upstream base URL of every version; :meth:`ModelRoute.pick` chooses the version for a
request (sticky by request key through a hash, else weighted random) and
:meth:`ModelRoute.fallbacks` says who answers when it fails. This module never does
I/O; the table is replaced as a whole on reload, so a request in flight keeps the
table it started with.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from engine.mlserver.settings import mlserver_name
from engine.spec.errors import TableError

WEIGHTED_ROLES = ("canary", "ab")
ROLES = ("champion", "canary", "ab", "shadow", "failover")


@dataclass(frozen=True)
class VersionRoute:
    """One served version: its role and where it answers."""

    model: str
    name: str
    version: str
    role: str
    weight: float | None
    url: str

    @property
    def infer_url(self) -> str:
        """``{url}/v2/models/{name}/versions/{version}/infer``."""
        return f"{self.url}/v2/models/{self.name}/versions/{self.version}/infer"

    def path_url(self, suffix: str = "") -> str:
        """``{url}/v2/models/{name}/versions/{version}{suffix}``."""
        return f"{self.url}/v2/models/{self.name}/versions/{self.version}{suffix}"


@dataclass(frozen=True)
class ModelRoute:
    """How one model's traffic is split."""

    model: str
    name: str
    tenant: str
    champion: VersionRoute
    weighted: tuple[VersionRoute, ...] = ()
    shadows: tuple[VersionRoute, ...] = ()
    failover: VersionRoute | None = None
    inputs: tuple[str, ...] = ()
    _cumulative: tuple[float, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        total = sum(v.weight or 0.0 for v in self.weighted)
        scale = 100.0 / total if total > 100.0 else 1.0  # over-subscribed weights are scaled to 100
        acc, cum = 0.0, []
        for v in self.weighted:
            acc += (v.weight or 0.0) * scale
            cum.append(acc)
        object.__setattr__(self, "_cumulative", tuple(cum))

    def version(self, version_id: str) -> VersionRoute | None:
        """The routed version with this id (any role)."""
        for v in (self.champion, *self.weighted, *self.shadows, *((self.failover,) if self.failover else ())):
            if v.version == version_id:
                return v
        return None

    def explicit(self, version_id: str) -> VersionRoute | None:
        """The version an explicit call (``/versions/{v}/...``) may reach, or ``None``.

        Only versions that serve live traffic: the champion and challengers (canary, ab) with a
        weight above 0. A shadow's answers are never returned to anyone, the failover only answers
        when the champion fails (or as champion, after an override), and a version the table does
        not route (shut down by an override, removed, never deployed) is not reachable at all.
        """
        if self.champion.version == version_id:
            return self.champion
        for v in self.weighted:
            if v.version == version_id and (v.weight or 0.0) > 0.0:
                return v
        return None

    def pick_point(self, point: float) -> VersionRoute:
        """The version at ``point`` in [0, 100): challengers' weights first, the champion takes the rest."""
        for v, bound in zip(self.weighted, self._cumulative, strict=True):
            if point < bound:
                return v
        return self.champion

    def pick(self, key: str | None, rnd: float) -> VersionRoute:
        """The version for a request: by hashing ``key`` (sticky) if given, else by ``rnd`` in [0, 1)."""
        if not self.weighted:
            return self.champion
        if key is not None:
            return self.pick_point(key_point(self.model, key))
        return self.pick_point(rnd * 100.0)

    def fallbacks(self, primary: VersionRoute) -> list[VersionRoute]:
        """Who answers when ``primary`` fails, in order: the champion (for a challenger), then the failover."""
        chain: list[VersionRoute] = []
        if primary.version != self.champion.version:
            chain.append(self.champion)
        if self.failover is not None and all(v.version != self.failover.version for v in (primary, *chain)):
            chain.append(self.failover)
        return chain

    def to_data(self) -> dict[str, Any]:
        """The table document's entry for this model."""
        versions = [self.champion, *self.weighted, *self.shadows, *((self.failover,) if self.failover else ())]
        return {
            "inputs": list(self.inputs),
            "versions": {
                v.version: {"role": v.role, "url": v.url, **({"weight": v.weight} if v.weight is not None else {})}
                for v in versions
            },
        }


def key_point(model: str, key: str) -> float:
    """A point in [0, 100) fixed by ``(model, key)``: the same key always lands on the same point."""
    digest = hashlib.blake2b(f"{model}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * 100.0


@dataclass
class RouteTable:
    """Every routed model, by MLServer name (``tenant--name``)."""

    models: dict[str, ModelRoute]
    source: str = ""
    commit: str | None = None

    def to_data(self) -> dict[str, Any]:
        """The JSON document this table was (or could be) built from."""
        return {
            "commit": self.commit,
            "models": {m.model: m.to_data() for m in sorted(self.models.values(), key=lambda m: m.model)},
        }

    @property
    def digest(self) -> str:
        """sha256 of the canonical document (changes when anything routed changes)."""
        blob = json.dumps(self.to_data(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def table_from_data(doc: Any, *, source: str = "", default_url: str | None = None) -> RouteTable:
    """Build a table from its JSON document.

    ``{"upstream": URL?, "commit": SHA?, "models": {"tenant/name": {"inputs": [...],
    "upstream": URL?, "versions": {"1.0.0": {"role": "champion", "weight": N?, "url": URL?}}}}}``;
    a version's ``url`` defaults to its model's ``upstream``, then the document's.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("models", {}), dict):
        raise TableError(f"{source or 'routing table'}: expected an object with a 'models' mapping")
    top_url = doc.get("upstream") or default_url
    models: dict[str, ModelRoute] = {}
    for model_id, entry in sorted(doc.get("models", {}).items()):
        where = f"{source or 'routing table'}: models.{model_id}"
        if not isinstance(model_id, str) or model_id.count("/") != 1:
            raise TableError(f"{where}: a model id is 'tenant/name'")
        if not isinstance(entry, dict) or not isinstance(entry.get("versions"), dict):
            raise TableError(f"{where}: expected an object with a 'versions' mapping")
        name = mlserver_name(model_id)
        if name in models:  # e.g. lab/eu--x and lab--eu/x: one would silently answer for the other
            raise TableError(f"{where}: its MLServer name '{name}' is also that of {models[name].model}; "
                             "tenant and model names may not contain '--'")
        model_url = entry.get("upstream") or top_url
        by_role: dict[str, list[VersionRoute]] = {r: [] for r in ROLES}
        for vid, v in entry["versions"].items():
            if not isinstance(v, dict) or v.get("role") not in ROLES:
                raise TableError(f"{where}.versions.{vid}: role must be one of {', '.join(ROLES)}")
            url = v.get("url") or model_url
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise TableError(f"{where}.versions.{vid}: no upstream URL (set 'url' or 'upstream')")
            weight = v.get("weight")
            if v["role"] in WEIGHTED_ROLES:
                if not isinstance(weight, int | float) or not 0 <= weight <= 100:
                    raise TableError(f"{where}.versions.{vid}: a {v['role']} version needs a weight in 0-100")
                weight = float(weight)
            else:
                weight = None
            by_role[v["role"]].append(
                VersionRoute(model=model_id, name=name, version=str(vid), role=v["role"], weight=weight,
                             url=url.rstrip("/"))
            )
        if len(by_role["champion"]) != 1:
            raise TableError(f"{where}: exactly one version must be the champion")
        if len(by_role["failover"]) > 1:
            raise TableError(f"{where}: at most one version may be the failover")
        inputs = entry.get("inputs") or []
        models[name] = ModelRoute(
            model=model_id,
            name=name,
            tenant=model_id.split("/", 1)[0],
            champion=by_role["champion"][0],
            weighted=tuple(by_role["canary"] + by_role["ab"]),
            shadows=tuple(by_role["shadow"]),
            failover=by_role["failover"][0] if by_role["failover"] else None,
            inputs=tuple(str(i) for i in inputs),
        )
    commit = doc.get("commit")
    return RouteTable(models=models, source=source, commit=commit if isinstance(commit, str) else None)

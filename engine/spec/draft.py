"""Draft a complete model spec from an artifact and a data file (``govops new``).

Spec stage. The draft is everything govops can know without a person: the interface inferred
from the data (``engine.spec.infer``), the sha256 of every file it names, the runtime the
artifact's format needs, the tier, tenant and owners from the arguments or ``govops.yaml``,
and a deployment that serves the one version. What only a person knows is marked with a
``# TODO`` comment at the place it goes (the training code's repository and commit, a
one-line description, held-out data when only one file was given, what the tier requires
beyond that): comments, so the draft lints clean as written, and the policies that need
those fields (``GOV-LIN-002`` for lineage on tiers that require it) still say so at check.

The draft is validated as ``govops lint`` would (schema and structural rules) before a
byte is written: a draft that would not lint is a bug, never a file left behind.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.spec.config import Governance
from engine.spec.errors import InputError
from engine.spec.infer import InferredInterface, infer_interface, read_table
from engine.spec.model import MODEL_NAME_PATTERN, VERSION_PATTERN
from engine.spec.pinning import sha256_file
from engine.spec.published import modeline

SKLEARN = "mlserver_sklearn.SKLearnModel"
RUNTIME_BY_SUFFIX = {
    ".joblib": SKLEARN,
    ".pkl": SKLEARN,
    ".pickle": SKLEARN,
    ".skops": SKLEARN,
    ".ubj": "mlserver_xgboost.XGBoostModel",
    ".txt": "mlserver_lightgbm.LightGBMModel",
}
"""The MLServer runtime an artifact's file suffix calls for (``--runtime`` overrides)."""
LABEL_NAMES = ("label", "target", "y", "class")
"""Columns taken as the label when ``--label`` is not given (else the last column)."""


@dataclass
class NewSpec:
    """What ``govops new`` was asked for (paths as given; the repository root resolved)."""

    root: Path
    model: str
    artifact: Path
    data: Path
    label: str | None = None
    tier: str | None = None
    tenant: str | None = None
    owners: list[str] = field(default_factory=list)
    eval_data: Path | None = None
    version: str = "1.0.0"
    runtime: str | None = None
    task: str | None = None
    description: str = ""
    code_repo: str | None = None
    code_commit: str | None = None
    out: Path | None = None
    force: bool = False


@dataclass
class Draft:
    """A drafted spec: where it goes, its text, and what the person must still do."""

    path: Path
    shown: str
    text: str
    todos: list[str]
    notes: list[str]
    interface: InferredInterface


def draft_spec(req: NewSpec, config: Governance) -> Draft:
    """The spec ``req`` describes, validated; raises ``InputError`` for anything the user must fix."""
    tenant, name = _model_name(req, config)
    tier = _tier(req.tier, config)
    owners = _owners(req.owners, tenant, config)
    if not re.fullmatch(VERSION_PATTERN, req.version):
        raise InputError(f"version '{req.version}' is not a valid version id (letters, digits, . _ + -)")
    path = _out_path(req, tenant, name, config)
    shown = _shown(path, req.root)
    notes: list[str] = []
    if not any(path.is_relative_to((req.root / p).resolve()) for p in config.spec_paths):
        notes.append(f"{shown} is outside specPaths ({', '.join(config.spec_paths)}): lint, check and rollout "
                     "will not see it until it moves there")
    artifact = _readable(req.artifact, "artifact")
    data = _readable(req.data, "data")
    evaluation = _readable(req.eval_data, "evaluation data") if req.eval_data else None
    runtime = req.runtime or _runtime(artifact)
    frame = read_table(data, str(req.data))
    label = req.label or _default_label([str(c) for c in frame.columns])
    inferred = infer_interface(frame, label, task=req.task, shown=str(req.data))
    if evaluation is not None:
        _same_columns(frame, read_table(evaluation, str(req.eval_data)), str(req.eval_data), str(req.data))
    if req.label is None:
        notes.append(f"label: took '{label}' (pass --label COL to choose another column)")
    if config.allowed_runtimes and runtime not in config.allowed_runtimes:
        notes.append(f"runtime {runtime} is not in govops.yaml allowedRuntimes "
                     f"({', '.join(config.allowed_runtimes)}); the policies will refuse it until it is")
    refs = _Refs(req.root, notes)
    todos: list[str] = []
    text = _render(_Parts(
        tenant=tenant, name=name, tier=tier, owners=owners, req=req, inferred=inferred, runtime=runtime,
        artifact=refs.of(artifact), data=refs.of(data), evaluation=refs.of(evaluation) if evaluation else None,
        environment=_environment(config), tier_config=config.tiers[tier].model_dump(by_alias=True),
    ), todos)
    _validate(text, shown, req.root, config)
    return Draft(path, shown, text, todos, notes, inferred)


def write_draft(draft: Draft, *, force: bool) -> None:
    """Write the drafted spec (its folder too); an existing file only with ``force``."""
    if draft.path.exists() and not force:
        raise InputError(f"{draft.shown} already exists; pass --force to overwrite it, or choose --out",
                         file=draft.shown)
    draft.path.parent.mkdir(parents=True, exist_ok=True)
    draft.path.write_text(draft.text, encoding="utf-8")


# --- the arguments -------------------------------------------------------------------------------------------


def _model_name(req: NewSpec, config: Governance) -> tuple[str, str]:
    tenant, _, name = req.model.rpartition("/")
    tenant = tenant or req.tenant or ""
    if req.tenant and tenant != req.tenant:
        raise InputError(f"model '{req.model}' names tenant '{tenant}' but --tenant says '{req.tenant}'")
    if not tenant:
        if len(config.tenants) != 1:
            known = ", ".join(config.tenants) or "none declared"
            raise InputError(f"which tenant owns '{name}'? write TENANT/{name} or pass --tenant (tenants: {known})")
        tenant = next(iter(config.tenants))
    for what, value in (("model name", name), ("tenant", tenant)):
        if not re.fullmatch(MODEL_NAME_PATTERN, value) or len(value) > 63:
            raise InputError(f"{what} '{value}' is not valid: lowercase letters and digits, single '-' between "
                             "them, at most 63 characters (e.g. credit-risk)")
    if config.tenants and tenant not in config.tenants:
        from engine.spec.schema_errors import suggest

        raise InputError(f"tenant '{tenant}' is not declared in govops.yaml{suggest(tenant, set(config.tenants))}; "
                         f"tenants: {', '.join(config.tenants)}")
    return tenant, name


def _tier(tier: str | None, config: Governance) -> str:
    if tier is None:
        return next(iter(config.tiers))
    if tier not in config.tiers:
        from engine.spec.schema_errors import suggest

        raise InputError(f"tier '{tier}' is not defined in govops.yaml{suggest(tier, set(config.tiers))}; "
                         f"tiers: {', '.join(config.tiers)}")
    return tier


def _owners(owners: list[str], tenant: str, config: Governance) -> list[str]:
    chosen = owners or (list(config.tenants[tenant].owners) if tenant in config.tenants else [])
    if not chosen:
        raise InputError(f"who owns the model? pass --owner (tenant '{tenant}' lists no owners in govops.yaml)")
    return chosen


def _out_path(req: NewSpec, tenant: str, name: str, config: Governance) -> Path:
    if req.out is not None:
        path = req.out if req.out.is_absolute() else Path.cwd() / req.out
    else:
        home = config.tenants[tenant].paths[0] if tenant in config.tenants else f"{config.spec_paths[0]}/{tenant}"
        path = req.root / home / f"{name}.yaml"
    if path.is_symlink():  # a committed (or dangling) link would make `new` write where it points
        shown = _shown(path, req.root)
        raise InputError(f"{shown} is a symbolic link; govops new writes only a regular spec file", file=shown)
    path = path.resolve()
    if path.exists() and not req.force:
        shown = _shown(path, req.root)
        raise InputError(f"{shown} already exists; pass --force to overwrite it, or choose --out", file=shown)
    if path.is_dir():
        raise InputError(f"{path} is a directory; --out names the spec file to write", file=str(path))
    return path


def _readable(path: Path, what: str) -> Path:
    shown = str(path)
    if not path.exists():
        raise InputError(f"{what} {shown} does not exist", file=shown)
    if not path.is_file():
        raise InputError(f"{what} {shown} is not a regular file", file=shown)
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise InputError(f"cannot read {what} {shown}: {exc.strerror or exc}", file=shown) from None
    return path.resolve()


def _runtime(artifact: Path) -> str:
    suffix = artifact.suffix.lower()
    if suffix not in RUNTIME_BY_SUFFIX:
        known = ", ".join(f"{s} ({r})" for s, r in RUNTIME_BY_SUFFIX.items())
        raise InputError(f"cannot tell the runtime of {artifact.name} from its suffix; pass --runtime "
                         f"(known suffixes: {known})", file=str(artifact))
    return RUNTIME_BY_SUFFIX[suffix]


def _default_label(columns: list[str]) -> str:
    return next((c for c in columns if c.lower() in LABEL_NAMES), columns[-1])


def _same_columns(train: Any, evaluation: Any, shown_eval: str, shown_data: str) -> None:
    missing = [str(c) for c in train.columns if c not in evaluation.columns]
    if missing:
        raise InputError(f"{shown_eval} lacks columns of {shown_data}: {', '.join(missing)}", file=shown_eval)


def _environment(config: Governance) -> str:
    return "production" if "production" in config.environments else next(iter(config.environments), "production")


def _shown(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


class _Refs:
    """``{uri, sha256}`` of a file: repository-relative inside the repository, ``file://`` outside it."""

    def __init__(self, root: Path, notes: list[str]) -> None:
        self.root = root.resolve()
        self.notes = notes
        self.digests: dict[Path, str] = {}

    def of(self, path: Path) -> dict[str, str]:
        if path not in self.digests:
            self.digests[path] = sha256_file(path)
        try:
            uri = path.relative_to(self.root).as_posix()
        except ValueError:
            uri = path.as_uri()
            self.notes.append(f"{path} is outside the repository: the spec names it as {uri}, which CI and other "
                              "machines cannot read; move it under artifacts/ and run `govops pin`")
        return {"uri": uri, "sha256": self.digests[path]}


# --- the text ------------------------------------------------------------------------------------------------


@dataclass
class _Parts:
    tenant: str
    name: str
    tier: str
    owners: list[str]
    req: NewSpec
    inferred: InferredInterface
    runtime: str
    artifact: dict[str, str]
    data: dict[str, str]
    evaluation: dict[str, str] | None
    environment: str
    tier_config: dict[str, Any]


def scalar(value: Any) -> str:
    """``value`` as a YAML scalar that reads back as exactly that value (quoted only where needed)."""
    from engine.spec.loader import resolve_plain

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    yaml11 = text.lower() in ("yes", "no", "on", "off", "y", "n")  # booleans to YAML 1.1 editors: quote them
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_./+-]*", text) and not yaml11:
        try:
            if resolve_plain(text) == text:
                return text
        except ValueError:  # digits past Python's int limit: quoted, so it reads back as this string
            pass
    return json.dumps(text, ensure_ascii=False)


def flow(mapping: dict[str, Any]) -> str:
    """A one-line flow mapping (``{name: x, type: float, min: 0, max: 9}``), as the example specs write features."""
    parts = []
    for key, value in mapping.items():
        shown = "[" + ", ".join(scalar(v) for v in value) + "]" if isinstance(value, list) else scalar(value)
        parts.append(f"{key}: {shown}")
    return "{" + ", ".join(parts) + "}"


def _render(p: _Parts, todos: list[str]) -> str:
    req, inferred = p.req, p.inferred
    out = [
        modeline("model"),
        f"# Drafted by `govops new` from {req.artifact.name} and {req.data.name}: review it, settle each TODO,",
        "# then `govops lint` and `govops check`. `govops pin` re-pins the digests when a file changes.",
        "apiVersion: govops/v1",
        "kind: Model",
        "metadata:",
        f"  name: {p.name}",
        f"  tenant: {p.tenant}",
        f"  owners: [{', '.join(scalar(o) for o in p.owners)}]",
    ]
    if req.description:
        out.append(f"  description: {scalar(req.description)}")
    else:
        out.append('  description: ""  # TODO: what the model decides, in one sentence')
        todos.append("metadata.description: what the model decides, in one sentence")
    out += [
        "spec:",
        f"  tier: {p.tier}",
        f"  task: {inferred.task}",
        "  interface:",
        f"    # inferred from {req.data.name} ({inferred.rows} rows): bounds are the observed range plus a "
        "10% margin; check types and categories",
        "    inputs:",
        *(f"      - {flow(f)}" for f in inferred.inputs),
        "    outputs:",
        *(f"      - {flow(f)}" for f in inferred.outputs),
        "  versions:",
        f"    - id: {scalar(req.version)}",
        "      artifact:",
        f"        uri: {scalar(p.artifact['uri'])}",
        f"        sha256: {p.artifact['sha256']}",
        f"      runtime: {p.runtime}",
        f"      created: {datetime.now(UTC).replace(microsecond=0).isoformat()}",
        "      lineage:",
        "        trainingData:",
        f"          uri: {scalar(p.data['uri'])}",
        f"          sha256: {p.data['sha256']}",
        *_code_lines(req, p.tier, p.tier_config, todos),
        "  deployment:",
        f"    environment: {p.environment}",
        f"    champion: {scalar(req.version)}",
        "  validation:",
        f"    referenceData: {flow(p.data)}",
        *_evaluation_lines(p, todos),
        f"    label: {scalar(inferred.outputs[0]['name'])}",
        *_tier_todos(p.tier, p.tier_config, todos),
    ]
    return "\n".join(out) + "\n"


def _code_lines(req: NewSpec, tier: str, tier_config: dict[str, Any], todos: list[str]) -> list[str]:
    if req.code_repo and req.code_commit:
        return [f"        code: {flow({'repo': req.code_repo, 'commit': req.code_commit})}"]
    needed = f" (tier {tier} requires it: GOV-LIN-002)" if tier_config.get("requireLineage") else ""
    todos.append(f"spec.versions[0].lineage.code: the training code's repository and commit{needed}")
    return [f"        # TODO: code: {{repo: <training code repository URL>, commit: <commit sha>}}{needed}"]


def _evaluation_lines(p: _Parts, todos: list[str]) -> list[str]:
    if p.evaluation is not None:
        return [f"    evaluationData: {flow(p.evaluation)}"]
    todos.append("spec.validation.evaluationData: held-out data the model never saw (pass --eval-data)")
    return [f"    evaluationData: {flow(p.data)}  # TODO: held-out data the model never saw (this is the training "
            "data; --eval-data)"]


def _tier_todos(tier: str, tier_config: dict[str, Any], todos: list[str]) -> list[str]:
    wanted = {
        "requireAlerting": "spec.monitoring with thresholds and alert channels",
        "requireAutoShutdown": "spec.monitoring.autoShutdown",
        "requireProgressiveRollout": "a canary or shadow challenger before the new version takes all traffic",
    }
    lines = []
    for key, what in wanted.items():
        if tier_config.get(key):
            todos.append(f"tier {tier} requires {what}")
            lines.append(f"  # TODO: tier {tier} requires {what} (see README, The model spec)")
    return lines


def _validate(text: str, shown: str, root: Path, config: Governance) -> None:
    """Lint the draft in memory (schema and structural rules); any error is a bug in the draft."""
    from engine.spec.workspace import load_spec_text

    _, diags = load_spec_text(text.encode("utf-8"), shown, root, config)
    errors = [d for d in diags if d.severity == "error"]
    if errors:  # e.g. a column name a spec cannot carry; nothing is written
        first = errors[0]
        raise InputError(f"the spec drafted from these files would not lint at line {first.line} "
                         f"({first.rule}: {first.message}); rename the column or pass other files", file=shown)

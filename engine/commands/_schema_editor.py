"""The editor settings ``govops schema --editor vscode`` prints (kept out of ``schema.py``, which is shared).

VS Code's YAML extension reads ``"yaml.schemas": {schema: [glob, ...]}`` from
``.vscode/settings.json``; a spec's own ``# yaml-language-server: $schema=`` line wins over it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.commands._common import CONFIG_FILE, repo_root


def spec_globs(args: argparse.Namespace) -> list[str]:
    """``<specPath>/**/*.yaml`` (and ``.yml``) for each spec folder of the repository's govops.yaml (else specs/)."""
    paths = ["specs"]
    root = repo_root(args)
    config_path = Path(args.config).resolve() if args.config else root / CONFIG_FILE
    if config_path.is_file():
        from engine.spec.workspace import load_config

        config, _, _ = load_config(root, config_path)
        paths = list(config.spec_paths) if config is not None else paths
    return [f"{p.strip('/')}/**/*.{ext}" for p in paths for ext in ("yaml", "yml")]


def vscode_settings(args: argparse.Namespace) -> dict[str, Any]:
    """``{"yaml.schemas": {...}}``: the spec folders to the model schema, govops.yaml to the governance one."""
    from engine.spec.published import schema_url
    from engine.spec.schemas import GOVERNANCE_SCHEMA, MODEL_SCHEMA

    if args.local:
        model, governance = MODEL_SCHEMA.resolve().as_uri(), GOVERNANCE_SCHEMA.resolve().as_uri()
    else:
        model, governance = schema_url("model"), schema_url("governance")
    return {"yaml.schemas": {model: spec_globs(args), governance: [CONFIG_FILE]}}

"""Write a complete, lint-clean spec for a trained model from its artifact and a data file.

The interface is inferred from the data (types, categories, bounds with a margin, the
label's classes), the artifact's and data's sha256 are pinned, the runtime follows from
the artifact's format, and tier, tenant and owners come from the options or govops.yaml.
What only a person knows (the training code's commit, a description, held-out data) is a
``# TODO`` comment in the file and a line in the output. Writes one file, never over an
existing one unless ``--force``. Exit 0 when written, 2 for bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.commands._common import repo_root

NAME = "new"
HELP = "write a lint-clean spec for a trained model: interface from its data, digests pinned"
ORDER = 22


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops new``."""
    parser.add_argument("model", metavar="MODEL", help="the model's name, or TENANT/NAME")
    parser.add_argument("--artifact", type=Path, required=True, metavar="PATH",
                        help="the trained model file (.joblib, .pkl, .skops, …)")
    parser.add_argument("--data", type=Path, required=True, metavar="PATH",
                        help="the training (reference) data, .csv or .parquet, label column included")
    parser.add_argument("--eval-data", type=Path, default=None, metavar="PATH",
                        help="held-out evaluation data (default: --data, marked TODO)")
    parser.add_argument("--label", default=None, metavar="COL",
                        help="the label column (default: label/target/y/class, else the last column)")
    parser.add_argument("--tier", default=None, metavar="T", help="a tier of govops.yaml (default: its first)")
    parser.add_argument("--tenant", default=None, help="the owning tenant (default: from MODEL, or the only one)")
    parser.add_argument("--owner", action="append", default=[], dest="owners", metavar="WHO",
                        help="an owner (repeat; default: the tenant's owners in govops.yaml)")
    parser.add_argument("--version", dest="model_version", default="1.0.0", metavar="ID",
                        help="the version id (default: 1.0.0)")
    parser.add_argument("--runtime", default=None, help="the MLServer runtime (default: from the artifact's suffix)")
    parser.add_argument("--task", choices=["classification", "regression"], default=None,
                        help="default: classification for text, boolean or few whole-number labels")
    parser.add_argument("--description", default="", help="what the model decides, in one sentence")
    parser.add_argument("--code-repo", default=None, metavar="URL", help="the training code's repository")
    parser.add_argument("--code-commit", default=None, metavar="SHA", help="the training code's commit")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="where to write the spec (default: the tenant's folder, NAME.yaml)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing spec file")


def run(args: argparse.Namespace) -> int:
    """Draft, validate, write, and say what is left to do."""
    from engine.spec.draft import NewSpec, draft_spec, write_draft
    from engine.spec.errors import ConfigError
    from engine.spec.workspace import load_config

    root = repo_root(args)
    config, config_file, _ = load_config(root, Path(args.config).resolve() if args.config else None)
    if config is None:
        raise ConfigError("govops.yaml is invalid; run `govops lint` and fix it first", file=config_file)
    req = NewSpec(
        root=root, model=args.model, artifact=args.artifact, data=args.data, label=args.label, tier=args.tier,
        tenant=args.tenant, owners=list(args.owners), eval_data=args.eval_data, version=args.model_version,
        runtime=args.runtime, task=args.task, description=args.description, code_repo=args.code_repo,
        code_commit=args.code_commit, out=args.out, force=args.force,
    )
    draft = draft_spec(req, config)
    write_draft(draft, force=args.force)
    inferred = draft.interface
    print(f"wrote {draft.shown}: {inferred.task}, {len(inferred.inputs)} inputs, "
          f"output {inferred.outputs[0]['name']}" + (f" ({len(inferred.classes)} classes)" if inferred.classes else ""))
    for note in draft.notes:
        print(f"note: {note}")
    for todo in draft.todos:
        print(f"todo: {todo}")
    print(f"next: govops lint {draft.shown} && govops check")
    return 0

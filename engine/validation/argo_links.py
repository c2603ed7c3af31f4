"""Links between the Argo UI, the pull request and the commit, in both directions.

Stage: *validate* (install and report side). ``node_url`` is where a validator's commit
status lands: its step in the Argo UI (``…/workflows/NS/NAME?nodeId=ID``). ``ui_configmap``
renders the ``links`` and ``columns`` of the workflow-controller ConfigMap, so the Argo UI
links each validation run back to its pull request and commit and lists model, tier and
PR as columns. That ConfigMap belongs to the Argo installation (its other keys configure
the controller), so the snippet is rendered beside ``argo/`` for a person to merge, never
applied by ``kubectl apply -k argo/``.

Link placeholders address the workflow as ``${workflow.metadata.annotations.KEY}``; the UI
resolves them as dotted paths, so they use the dot-free annotations ``govops-repository``,
``govops-pr`` and ``govops-head-sha`` every PR workflow carries (``workflow._annotations``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from engine.validation.workflow import LABEL_PREFIX


def workflow_url(server: str, namespace: str, name: str) -> str:
    """The Argo UI page of a workflow: ``{server}/workflows/{namespace}/{name}``."""
    return f"{server.rstrip('/')}/workflows/{quote(namespace, safe='')}/{quote(name, safe='')}"


def node_url(server: str, namespace: str, name: str, node_id: str) -> str:
    """The Argo UI page of one step (node) of a workflow: ``…/workflows/NS/NAME?nodeId=ID``."""
    return f"{workflow_url(server, namespace, name)}?nodeId={quote(node_id, safe='')}"


def ui_links(github_url: str = "https://github.com") -> list[dict[str, str]]:
    """``links`` entries (scope ``workflow``): the pull request and the commit a run validated."""
    base = github_url.rstrip("/") + "/${workflow.metadata.annotations.govops-repository}"
    return [
        {"name": "Pull request", "scope": "workflow", "target": "_blank",
         "url": base + "/pull/${workflow.metadata.annotations.govops-pr}"},
        {"name": "Commit", "scope": "workflow", "target": "_blank",
         "url": base + "/commit/${workflow.metadata.annotations.govops-head-sha}"},
    ]


def ui_columns() -> list[dict[str, str]]:
    """``columns`` of the workflow list: model, tier and PR, read from the runs' labels."""
    return [
        {"name": "Model", "type": "label", "key": f"{LABEL_PREFIX}/model"},
        {"name": "Tier", "type": "label", "key": f"{LABEL_PREFIX}/tier"},
        {"name": "PR", "type": "label", "key": f"{LABEL_PREFIX}/pr"},
    ]


def ui_configmap(github_url: str = "https://github.com") -> dict[str, Any]:
    """The workflow-controller ConfigMap keys to merge (``data.links``/``data.columns`` as YAML strings)."""
    from engine.validation.argo_manifests import to_yaml

    def block(items: list[dict[str, str]]) -> str:
        return to_yaml(items, header="")  # type: ignore[arg-type]

    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "workflow-controller-configmap"},
        "data": {"links": block(ui_links(github_url)), "columns": block(ui_columns())},
    }

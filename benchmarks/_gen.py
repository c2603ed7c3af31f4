"""Generate N valid specs (variants of an example spec) in a fresh GitOps repository."""

from __future__ import annotations

import shutil
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
TENANTS = ["clinical", "oncology", "beverages", "lab"]


def generate_repo(root: Path, n: int, template: str = "specs/clinical/disease-progression.yaml") -> Path:
    """A repository at ``root`` with govops.yaml and ``n`` distinct, valid specs."""
    if root.exists():
        shutil.rmtree(root)
    (root / "specs").mkdir(parents=True)
    shutil.copy(PROJECT / "govops.yaml", root / "govops.yaml")
    text = (PROJECT / template).read_text()
    for i in range(n):
        tenant = TENANTS[i % len(TENANTS)]
        body = text.replace("name: disease-progression", f"name: model-{i:05d}").replace(
            "tenant: clinical", f"tenant: {tenant}"
        )
        folder = root / "specs" / tenant
        folder.mkdir(exist_ok=True)
        (folder / f"model-{i:05d}.yaml").write_text(body)
    return root

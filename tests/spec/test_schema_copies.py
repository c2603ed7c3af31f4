"""The vendored reference schemas in tests/schemas/ equal shared/schemas/ (when shared/ is beside the checkout)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1] / "schemas"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "schemas"


@pytest.mark.parametrize("name", sorted(p.name for p in HERE.glob("*.json")))
def test_vendored_schema_equals_shared(name: str) -> None:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: nothing to compare the vendored copies with")
    assert (HERE / name).read_bytes() == (SHARED / name).read_bytes(), f"tests/schemas/{name} differs from shared/"

"""A wheel of govops carries the default policy library, so ``govops init`` works from ``pip install govops``.

The library lives at the top of the repository (``policies/``, the fixed layout);
``engine/policy/default_library`` links to it and is package data, so the wheel holds a
copy. Built here with pip from the working tree, then imported from the unpacked wheel.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import PROJECT

pytestmark = pytest.mark.slow


def library_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(PROJECT)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = out.glob("govops-*.whl")
    dest = out / "unpacked"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(dest)
    return dest


def test_the_wheel_holds_every_file_of_the_policy_library(unpacked_wheel: Path) -> None:
    packaged = unpacked_wheel / "engine" / "policy" / "default_library"
    assert not packaged.is_symlink() and packaged.is_dir()
    assert library_files(packaged) == library_files(PROJECT / "policies")


def test_init_from_the_installed_wheel_scaffolds_the_library(unpacked_wheel: Path, tmp_path: Path) -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import engine; assert engine.__file__.startswith(sys.argv[1]), engine.__file__;"
        "from engine.cli import main; sys.exit(main(['init', sys.argv[2]]))"
    )
    target = tmp_path / "new-repo"
    res = subprocess.run([sys.executable, "-c", script, str(unpacked_wheel), str(target)], cwd=tmp_path,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "ships no policy library" not in res.stderr
    assert library_files(target / "policies") == library_files(PROJECT / "policies")

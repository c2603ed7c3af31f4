"""Staged copies are cleared at the start of a rollout, and a planted link is never followed."""

from __future__ import annotations

from pathlib import Path

from engine.mlserver.local_serving import ServingPaths
from engine.rollout.targets.local import LocalTarget


def test_leftover_staged_folders_are_removed(tmp_path: Path) -> None:
    paths = ServingPaths.for_repo(tmp_path)
    paths.ensure()
    (paths.staging / "a1b2c3" / "lab--iris@1.2.0").mkdir(parents=True)
    (paths.staging / "a1b2c3" / "lab--iris@1.2.0" / "model.joblib").write_bytes(b"x")
    (paths.staging / "stray.tmp").write_text("x")
    LocalTarget(tmp_path)._clear_staging()
    assert list(paths.staging.iterdir()) == []


def test_a_staging_directory_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    paths = ServingPaths.for_repo(tmp_path / "repo")
    paths.ensure()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "keep").mkdir(parents=True)
    (elsewhere / "keep" / "data.txt").write_text("precious")
    paths.staging.rmdir()
    paths.staging.symlink_to(elsewhere, target_is_directory=True)
    LocalTarget(tmp_path / "repo")._clear_staging()
    assert (elsewhere / "keep" / "data.txt").read_text() == "precious"


def test_a_link_inside_staging_is_removed_not_followed(tmp_path: Path) -> None:
    paths = ServingPaths.for_repo(tmp_path / "repo")
    paths.ensure()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.txt").write_text("precious")
    (paths.staging / "link").symlink_to(elsewhere, target_is_directory=True)
    LocalTarget(tmp_path / "repo")._clear_staging()
    assert not (paths.staging / "link").exists() and (elsewhere / "data.txt").read_text() == "precious"

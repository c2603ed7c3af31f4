"""The result cache of ``lint`` and ``check --all``: same findings as without it, one changed spec judged alone,
and an entry that is corrupted, forged or copied under another key is a miss, never a pass."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from engine.cli import main
from engine.policy.cached_check import cached_check_all
from engine.policy.cached_lint import cached_lint
from engine.spec import result_cache as rc
from engine.spec.settings import Settings, cache_root
from tests.conftest import copy_example_repo

TRIAGE = "specs/clinical/readmission-triage.yaml"


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for k in [k for k in os.environ if k.startswith("GOVOPS_")]:
        monkeypatch.delenv(k)
    root = copy_example_repo(tmp_path / "repo")
    # a few more specs, one of them with findings (a warning from the policies, an error from lint)
    text = (root / TRIAGE).read_text()
    for i in range(3):
        (root / f"specs/clinical/copy-{i}.yaml").write_text(
            text.replace("  name: readmission-triage\n", f"  name: readmission-triage-{i}\n", 1))
    return root


def outputs(root: Path, capsys, env: dict[str, str] | None = None) -> dict[str, tuple[int, str]]:
    """lint and check --all as JSON, each with its exit code."""
    out = {}
    for name, args in (("lint", ["lint", "--format", "json"]), ("check", ["check", "--all", "--format", "json"])):
        rc_ = main(["-C", str(root), *args])
        out[name] = (rc_, capsys.readouterr().out)
    return out


@pytest.mark.slow
def test_cached_runs_find_what_uncached_runs_find(repo: Path, capsys, monkeypatch) -> None:
    (repo / "specs/clinical/copy-1.yaml").write_text(
        (repo / "specs/clinical/copy-1.yaml").read_text().replace("  tier: high", "  tier: hihg", 1))
    (repo / "specs/clinical/copy-2.yaml").write_text(  # a duplicate model id
        (repo / "specs/clinical/copy-2.yaml").read_text().replace("readmission-triage-2", "readmission-triage-0"))
    monkeypatch.setenv("GOVOPS_POLICY_CACHE", "0")
    plain = outputs(repo, capsys)
    monkeypatch.delenv("GOVOPS_POLICY_CACHE")
    cold = outputs(repo, capsys)
    warm = outputs(repo, capsys)
    assert cold == plain and warm == plain
    assert plain["lint"][0] == 2 and plain["check"][0] == 2
    rules = {d["rule"] for d in json.loads(plain["lint"][1])["violations"]}
    assert {"spec/unknown-tier", "spec/duplicate-id"} <= rules
    # a duplicate id does not keep the cache cold: both specs have their entries
    env = dict(os.environ)
    linted, checked = cached_lint(repo, None, None, None, env), cached_check_all(
        repo, context=None, backend=None, config_path=None, env=env)
    assert linted is not None and linted[1] == 0
    assert checked is not None and (checked.loaded, checked.evaluated) == (0, 0)


def test_one_changed_spec_is_judged_alone(repo: Path) -> None:
    env = dict(os.environ)
    first = cached_check_all(repo, context=None, backend=None, config_path=None, env=env)
    count = len(list((repo / "specs").rglob("*.yaml")))
    assert first is not None and first.loaded == first.findings.models_checked == count
    warm = cached_check_all(repo, context=None, backend=None, config_path=None, env=env)
    assert warm is not None and (warm.loaded, warm.evaluated) == (0, 0)
    spec = repo / "specs/clinical/copy-1.yaml"
    spec.write_text(spec.read_text().replace("description: ", "description: (edited) ", 1))
    again = cached_check_all(repo, context=None, backend=None, config_path=None, env=env)
    assert again is not None and (again.loaded, again.evaluated) == (1, 1)
    assert again.findings.diagnostics == warm.findings.diagnostics

    linted = cached_lint(repo, None, None, None, env)
    assert linted is not None
    spec.write_text(spec.read_text().replace("(edited) ", "(edited twice) ", 1))
    relinted = cached_lint(repo, None, None, None, env)
    assert relinted is not None and relinted[1] == 1 and relinted[0].diagnostics == linted[0].diagnostics


def test_a_changed_data_file_is_a_miss(repo: Path) -> None:
    env = dict(os.environ)
    assert cached_lint(repo, None, None, None, env) is not None
    uris = rc.spec_uris(__import__("yaml").safe_load((repo / TRIAGE).read_text()))
    local = [u for u in uris if "://" not in u and (repo / u).is_file()]
    assert local
    target = repo / local[0]
    target.unlink()
    target.mkdir()  # now a directory: lint must say so, not repeat yesterday's "ok"
    found = cached_lint(repo, None, None, None, env)
    assert found is not None and found[1] >= 1
    assert any(d.rule == "spec/unreadable-data" for d in found[0].diagnostics)


def entry_files(root: Path) -> list[Path]:
    return sorted(p for p in (cache_root(Settings()) / rc.KIND).rglob("*.json") if p.parent.name != "packs")


def test_a_forged_or_corrupted_entry_is_not_trusted(repo: Path, capsys) -> None:
    bad = repo / "specs/clinical/copy-0.yaml"
    bad.write_text(bad.read_text().replace("  tier: high", "  tier: hihg", 1))
    env = dict(os.environ)
    linted = cached_lint(repo, None, None, None, env)
    assert linted is not None and not linted[0].ok
    store = rc.ResultStore(repo, env)
    scope_key = next(k for _, shown, k in rc.spec_keys([str(p) for p in sorted((repo / "specs").rglob("*.yaml"))], repo,
                                                       _lint_scope(repo, env)) if shown.endswith("copy-0.yaml"))
    path = store.dir / scope_key[:2] / f"{scope_key}.json"
    head, _, payload = path.read_bytes().partition(b"\n")
    value = json.loads(payload)
    assert value["diags"]

    packs = store.dir / "packs"

    # forged: the same entry with its findings removed, signed with a guessed key
    value["diags"] = []
    forged = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    fmt, key, _ = head.decode().split(" ")
    forged_entry = f"{fmt} {key} {rc.ResultStore._mac(b'0' * 32, key, forged)}\n".encode() + forged
    path.write_bytes(forged_entry)
    shutil.rmtree(packs)  # (the last run's pack holds the genuine entry: it would be used instead)
    again = cached_lint(repo, None, None, None, env)
    assert again is not None and again[1] == 1 and again[0].diagnostics == linted[0].diagnostics

    # the same forgery inside the pack, where the next run looks first
    [pack] = list(packs.glob("*.json"))
    entries = json.loads(pack.read_text())
    entries[key] = forged_entry.decode()
    pack.write_text(json.dumps(entries))
    path.write_bytes(forged_entry)
    again = cached_lint(repo, None, None, None, env)
    assert again is not None and again[1] == 1 and again[0].diagnostics == linted[0].diagnostics

    # copied: a clean spec's (validly signed) entry under the bad spec's key
    clean = next(p for p in entry_files(repo) if p != path and b'"file":"specs/clinical/copy-2.yaml"' in p.read_bytes())
    path.write_bytes(clean.read_bytes())
    shutil.rmtree(packs)
    again = cached_lint(repo, None, None, None, env)
    assert again is not None and again[1] == 1 and again[0].diagnostics == linted[0].diagnostics

    # corrupted: truncated
    path.write_bytes(path.read_bytes()[:40])
    shutil.rmtree(packs)
    again = cached_lint(repo, None, None, None, env)
    assert again is not None and again[1] == 1 and again[0].diagnostics == linted[0].diagnostics


def _lint_scope(root: Path, env: dict[str, str]) -> str:
    from engine.policy.cached_lint import _scope

    return _scope(root, None, env)[0]


def test_the_cache_lives_outside_the_checkout(repo: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GOVOPS_CACHE_DIR", str(repo / ".cache"))
    assert main(["-C", str(repo), "lint"]) == 2
    assert "inside the repository" in capsys.readouterr().err
    assert not (repo / ".cache" / rc.KIND).exists()


@pytest.mark.parametrize("value", [None, "", "  ", "/tmp/somewhere", "~/x"])
def test_the_warm_path_reads_the_settings_as_the_settings_class_does(value, monkeypatch) -> None:
    env = {"XDG_CACHE_HOME": "/tmp/xdg"}
    if value is not None:
        env["GOVOPS_CACHE_DIR"] = value
    from engine.spec.cache_location import resolve
    from engine.spec.settings import get_settings

    assert resolve(rc.env_setting(env, "cache_dir"), env) == cache_root(get_settings(env), env)
    for flag in ("0", "false", "no", "off", "1", "true", "yes"):
        assert rc.enabled({"GOVOPS_POLICY_CACHE": flag}) is get_settings({"GOVOPS_POLICY_CACHE": flag}).policy_cache
    assert rc.env_setting({}, "policy_dir", "policies") == get_settings({}).policy_dir

"""`make demo`: the govops story on embedded defaults, one stage after another.

Builds a throwaway GitOps repository from the example content (real git, real models),
then walks it through what exists: specs -> lint -> catalog -> (PR -> plan -> policy ->
validation -> merge -> rollout -> audit, as those stages land). Every step runs the real
`govops` CLI and prints its output, so the demo is also a smoke test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
BOLD, DIM, GREEN, RED, RESET = (
    ("\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m") if sys.stdout.isatty() else ("",) * 5
)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dana (data scientist)",
    "GIT_AUTHOR_EMAIL": "dana.ds@example.com",
    "GIT_COMMITTER_NAME": "Dana (data scientist)",
    "GIT_COMMITTER_EMAIL": "dana.ds@example.com",
}


def stage(n: int, title: str, why: str) -> None:
    print(f"\n{BOLD}== {n}. {title}{RESET}")
    print(textwrap.fill(why, 100, initial_indent="   ", subsequent_indent="   "))


def run(repo: Path, *args: str, expect: int | tuple[int, ...] = 0, show: int = 40) -> subprocess.CompletedProcess[str]:
    shown = " ".join(args)
    print(f"{DIM}$ govops {shown}{RESET}")
    env = {**os.environ, **GIT_ENV}
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], cwd=repo, capture_output=True, text=True, env=env
    )
    out = (result.stdout + result.stderr).rstrip().splitlines()
    for line in out[:show]:
        print(f"   {line}")
    if len(out) > show:
        print(f"   … ({len(out) - show} more lines)")
    expected = (expect,) if isinstance(expect, int) else expect
    mark = (
        f"{GREEN}exit {result.returncode}{RESET}"
        if result.returncode in expected
        else f"{RED}exit {result.returncode}{RESET}"
    )
    print(f"   -> {mark}")
    if result.returncode not in expected:
        raise SystemExit(f"demo step failed: govops {shown} exited {result.returncode}, expected {expected}")
    return result


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(where: Path) -> Path:
    repo = where / "gitops-repo"
    repo.mkdir()
    shutil.copy(PROJECT / "govops.yaml", repo / "govops.yaml")
    for folder in ("specs", "artifacts", "policies"):
        if (PROJECT / folder).exists():
            shutil.copytree(PROJECT / folder, repo / folder)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Initial model inventory")
    return repo


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="govops-demo-") as tmp:
        repo = make_repo(Path(tmp))
        print(f"{BOLD}govops demo{RESET}: a GitOps repository of ML models at {repo}")
        stage(
            1,
            "Specs in Git",
            "Six models of four teams, all three risk tiers, declared as YAML specs with "
            "artifacts pinned by sha256. lint checks YAML, schema and structure at file:line:col.",
        )
        run(repo, "lint")
        run(repo, "catalog")
        stage(
            2,
            "A typo never disables a control",
            "A misspelt field is refused with the nearest valid name; bad input exits 2 and nothing is written.",
        )
        spec = repo / "specs/lab/iris-species.yaml"
        original = spec.read_text()
        spec.write_text(original.replace("    champion: 1.0.0", "    champoin: 1.0.0"))
        run(repo, "lint", expect=2)
        spec.write_text(original)
        print(f"\n{BOLD}done{RESET}: every stage above ran the real CLI on a real git repository.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

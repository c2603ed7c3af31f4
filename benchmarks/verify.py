"""Benchmark: ``govops verify`` over a long history against ``git log --notes`` over the same range.

Builds a repository with ``--commits`` first-parent commits on main (``git fast-import``),
every ``commits/records``-th of which changes a spec, and one signed, chained rollout
record per spec change (written with ``engine.audit.ledger.append_record``, signed with an SSH
key made here, the key listed in ``govops.yaml``'s ``ledger.allowedSigners``). Then times,
best of ``--repeat``:

- ``git log --notes=govops`` over main (the baseline the issue names);
- ``govops verify`` (the CLI, a fresh process: signatures of each notes ref's tip, the hash
  chain, one record for every spec change, spec trees, evidence links);
- ``govops verify --all-signatures`` (every notes commit's signature through git's
  ``ssh-keygen -Y verify`` path).

Usage: ``python benchmarks/verify.py [--commits 10000] [--records 1000] [--repeat 3]``.
Results are printed (and written with ``--json FILE``); nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

SPEC = "specs/lab/iris-species.yaml"


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_NOSYSTEM": "1"}
    res = subprocess.run(["git", *args], cwd=repo, env=env, input=stdin, capture_output=True, check=True)
    return res.stdout.decode().strip()


def build(repo: Path, commits: int, records: int) -> list[str]:
    """The repository; returns the spec-changing commits, oldest first."""
    from engine.audit.ledger import append_record, build_record
    from engine.audit.pr_evidence import spec_trees
    from engine.commands.rollout import covered_commits
    from engine.rollout.desired import load_desired

    repo.mkdir(parents=True)
    key = repo.parent / "ci_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci", "-f", str(key)], check=True)
    allowed = [f"govops-ci {(repo.parent / 'ci_key.pub').read_text().strip()}"]
    config = (PROJECT / "govops.yaml").read_text() + f"ledger:\n  allowedSigners:\n    - \"{allowed[0]}\"\n"
    spec = (PROJECT / SPEC).read_text()
    every = max(1, commits // records)
    stream: list[bytes] = []

    def blob(text: str) -> bytes:
        raw = text.encode()
        return b"data %d\n" % len(raw) + raw + b"\n"

    for i in range(commits):
        msg = f"change {i}"
        stream.append(b"commit refs/heads/main\n")
        stream.append(b"mark :%d\n" % (i + 1))
        stream.append(b"committer bench <bench@example.com> %d +0000\n" % (1_700_000_000 + i * 60))
        stream.append(blob(msg))
        if i:
            stream.append(b"from :%d\n" % i)
        if i == 0:
            stream.append(b"M 100644 inline govops.yaml\n" + blob(config))
        if i == 0 or i % every == 0:
            stream.append(f"M 100644 inline {SPEC}\n".encode() + blob(spec.replace("tags: [herbarium]",
                                                                                    f"tags: [herbarium, b{i}]")))
        else:
            stream.append(b"M 100644 inline docs/counter.txt\n" + blob(str(i)))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "fast-import", "--quiet", stdin=b"".join(stream))
    _git(repo, "reset", "-q", "--hard", "main")
    for k, v in (("gpg.format", "ssh"), ("user.signingkey", str(key)), ("user.name", "govops[bot]"),
                 ("user.email", "bot@example.com")):
        _git(repo, "config", k, v)
    spec_commits = _git(repo, "log", "--first-parent", "--format=%H", "main", "--", "specs").split()[::-1]
    started = time.perf_counter()
    for n, sha in enumerate(spec_commits[1:], 1):  # the first commit declares the ledger: it is the start
        state = load_desired(repo, sha)
        record = build_record(target="local", ref="main", commit=sha, digest=state.digest, previous_digest=None,
                              result={"outcome": "succeeded", "changes": []}, evidence=None)
        record["covers"] = covered_commits(repo, sha)
        record["specs_tree"] = spec_trees(repo, sha)
        append_record(repo, sha, record, allowed_signers=allowed)
        if n % 100 == 0:
            print(f"  {n} records written ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return spec_commits


def best(cmd: list[str], cwd: Path, repeat: int, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Best wall time of ``repeat`` runs, and the last exit code."""
    times = []
    code = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
        times.append(time.perf_counter() - t0)
        code = res.returncode
    return min(times), code


def main() -> int:
    """Build, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the repository (its path is printed)")
    parser.add_argument("--repo", type=Path, help="measure a repository kept by an earlier --keep run (no build)")
    args = parser.parse_args()
    if shutil.which("ssh-keygen") is None:
        print("ssh-keygen is needed to sign the ledger", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="govops-bench-verify-"))
    repo = tmp / "repo"
    t0 = time.perf_counter()
    if args.repo:
        repo, args.keep = args.repo.resolve(), True
        spec_commits = _git(repo, "log", "--first-parent", "--format=%H", "main", "--", "specs").split()
    else:
        spec_commits = build(repo, args.commits, args.records)
    built = time.perf_counter() - t0
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    git_log, _ = best(["git", "log", "--notes=govops", "--format=%H %N", "main"], repo, args.repeat)
    verify, code = best([sys.executable, "-m", "engine.cli", "-C", str(repo), "verify"], repo, args.repeat, env)
    verify_all, code_all = best([sys.executable, "-m", "engine.cli", "-C", str(repo), "verify", "--all-signatures"],
                                repo, 1, env)
    startup, _ = best([sys.executable, "-c", "import engine.cli, engine.commands.verify, "
                                             "engine.audit.verify, engine.audit.chain"],
                      PROJECT, args.repeat, env)
    from engine.audit.verify import verify as verify_in_process

    in_process = []
    for _ in range(args.repeat):
        t1 = time.perf_counter()
        report = verify_in_process(repo)
        in_process.append(time.perf_counter() - t1)
    assert report.ok, report.to_data()["problems"][:3]
    result = {
        "commits": int(_git(repo, "rev-list", "--count", "main")),
        "rollout_records": len(spec_commits) - 1,
        "build_s": round(built, 1),
        "git_log_notes_s": round(git_log, 3),
        "verify_s": round(verify, 3),
        "verify_exit": code,
        "verify_ratio": round(verify / git_log, 2),
        "verify_all_signatures_s": round(verify_all, 3),
        "verify_all_signatures_exit": code_all,
        "python_start_and_imports_s": round(startup, 3),
        "verify_in_process_s": round(min(in_process), 3),
        "verify_in_process_ratio": round(min(in_process) / git_log, 2),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.keep:
        print(f"repository kept at {repo}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

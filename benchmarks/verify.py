"""Benchmark: ``govops verify`` over a long history against ``git log --notes`` over the same range.

Builds a repository with ``--commits`` first-parent commits on main (``git fast-import``),
every ``commits/records``-th of which changes a spec, and one signed, chained rollout
record per spec change (written with ``engine.audit.ledger.append_record``, signed with an SSH
key made here, the key listed in ``govops.yaml``'s ``ledger.allowedSigners``). Then times,
best of ``--repeat``:

- ``git log --notes=govops`` over main (the baseline the issue names), interleaved with
- ``govops verify`` (the CLI end to end, a fresh process of the ``govops`` console script:
  signatures of each notes ref's tip, the hash chain, one record for every spec change,
  spec trees, evidence links);
- ``govops verify --all-signatures`` (every notes commit's signature through git's
  ``ssh-keygen -Y verify`` path).

Usage: ``python benchmarks/verify.py [--commits 10000] [--records 1000] [--repeat 3]``.
Results are printed (and written with ``--json FILE``); nothing is asserted. The headline is
``verify_ratio``: best wall time of ``govops verify`` over best wall time of ``git log --notes``,
both from the same interleaved runs (issue #17: at most 3); medians, CPU times and the processes
one ``verify`` starts (git's, and the ``ssh-keygen`` git runs, from ``GIT_TRACE2_EVENT``) are printed
beside it. Nothing is cached between runs: every run of ``verify`` checks the whole trail. The repository
is measured packed (``git repack -ad``, as a clone has it; ``--loose`` keeps the notes as
the build left them, loose objects). Building the
repository takes minutes (each record is a signed notes commit), so the built repository is
kept under ``--cache`` (default ``$TMPDIR/govops-bench-verify-cache``), one per
``--commits``/``--records`` pair and build format, and reused; ``--rebuild`` starts afresh.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

SPEC = "specs/lab/iris-species.yaml"
BUILD_FORMAT = 1  # bump when build() changes what it writes, so cached repositories are not reused


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


def python_env() -> dict[str, str]:
    """The environment of the timed processes: bytecode cached outside the checkout, as an installed govops has.

    With ``PYTHONDONTWRITEBYTECODE`` set (some CI images set it) every start would compile
    govops from source, which is not what an installed package does.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "govops-bench-pycache"))
    return {**env, "PYTHONPATH": str(PROJECT)}


def processes(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict[str, int]:
    """The processes one (untimed) run of ``cmd`` starts, from ``GIT_TRACE2_EVENT``.

    ``git``: git's own (its start events); ``other``: what git starts that is not git
    (``ssh-keygen`` for a signature).
    """
    fd, trace = tempfile.mkstemp(prefix="govops-bench-trace2-")
    os.close(fd)
    try:
        subprocess.run(cmd, cwd=cwd, env={**env, "GIT_TRACE2_EVENT": trace}, capture_output=True)
        events = [json.loads(line) for line in Path(trace).read_text().splitlines() if line.strip()]
    finally:
        os.unlink(trace)
    return {"git": sum(1 for e in events if e.get("event") == "start"),
            "other": sum(1 for e in events if e.get("event") == "child_start" and not e.get("git_cmd"))}


def govops_command() -> list[str]:
    """The ``govops`` console script beside this interpreter (what a user runs), else ``python -m engine.cli``."""
    script = Path(sys.executable).with_name("govops")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "engine.cli"]


def interleaved(
    cmds: dict[str, list[str]], cwd: Path, repeat: int, env: dict[str, str]
) -> dict[str, tuple[float, int, float, float]]:
    """Best wall time, last exit code, least CPU time (the process and its children) and median wall time of each.

    The commands run in turn, ``repeat`` times, so a busy machine slows them alike; CPU time
    (user + system, from ``RUSAGE_CHILDREN``) depends less on what else runs.
    """
    times: dict[str, list[float]] = {name: [] for name in cmds}
    cpu: dict[str, list[float]] = {name: [] for name in cmds}
    codes: dict[str, int] = {}
    for _ in range(repeat):
        for name, cmd in cmds.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
            times[name].append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            codes[name] = res.returncode
    return {name: (min(times[name]), codes[name], min(cpu[name]), sorted(times[name])[len(times[name]) // 2])
            for name in cmds}


def main() -> int:
    """Build, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the repository (its path is printed)")
    parser.add_argument("--repo", type=Path, help="measure a repository kept by an earlier --keep run (no build)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "govops-bench-verify-cache",
                        help="where built repositories are kept and reused (default: %(default)s)")
    parser.add_argument("--rebuild", action="store_true", help="build afresh even if the cache holds the repository")
    parser.add_argument("--loose", action="store_true",
                        help="measure the repository as built (notes as loose objects), not packed like a clone")
    args = parser.parse_args()
    if shutil.which("ssh-keygen") is None:
        print("ssh-keygen is needed to sign the ledger", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="govops-bench-verify-"))
    repo = tmp / "repo"
    t0 = time.perf_counter()
    cached = args.cache / f"c{args.commits}-r{args.records}-f{BUILD_FORMAT}" / "repo"
    if args.repo or (cached.is_dir() and not args.rebuild):
        tmp.rmdir()
        repo, args.keep = (args.repo or cached).resolve(), True
        spec_commits = _git(repo, "log", "--first-parent", "--format=%H", "main", "--", "specs").split()
    else:
        spec_commits = build(repo, args.commits, args.records)
        if args.cache and not args.keep:  # keep it for the next run; the key ring sits beside the repository
            shutil.rmtree(cached.parent, ignore_errors=True)
            cached.parent.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(tmp), str(cached.parent))
            repo, tmp, args.keep = cached, cached.parent, True
            _git(repo, "config", "user.signingkey", str(cached.parent / "ci_key"))
    built = time.perf_counter() - t0
    loose = int(_git(repo, "count-objects").split()[0])
    if loose and not args.loose:  # what a CI clone holds: one pack (no commit-graph: a fetch writes none)
        _git(repo, "repack", "-a", "-d", "-q")
    env = python_env()
    cli = govops_command()
    git_log_cmd = ["git", "log", "--notes=govops", "--format=%H %N", "main"]
    verify_cmd = [*cli, "-C", str(repo), "verify"]
    subprocess.run(verify_cmd, cwd=repo, env=env, capture_output=True)  # compile once (see python_env), untimed
    runs = interleaved({"git_log": git_log_cmd, "verify": verify_cmd}, repo, args.repeat, env)
    git_log, _, git_log_cpu, git_log_median = runs["git_log"]
    verify, code, verify_cpu, verify_median = runs["verify"]
    verify_all, code_all = best([*cli, "-C", str(repo), "verify", "--all-signatures"], repo, 1, env)
    spawned = processes(verify_cmd, repo, env)
    startup, _ = best([sys.executable, "-c", "import engine.cli, engine.commands.verify, engine.audit.gitjobs, "
                                             "engine.audit.verify, engine.audit.chain, engine.spec.loader"],
                      PROJECT, args.repeat, env)
    floor, _ = best([sys.executable, "-c", "pass"], PROJECT, args.repeat, env)
    from engine.audit.verify import verify as verify_in_process

    in_process = []
    for _ in range(args.repeat):
        t1 = time.perf_counter()
        report = verify_in_process(repo)
        in_process.append(time.perf_counter() - t1)
    assert report.ok, report.to_data()["problems"][:3]
    result = {
        "commits": int(_git(repo, "rev-list", "--count", "main")),
        "packed": not args.loose,
        "rollout_records": len(spec_commits) - 1,
        "build_s": round(built, 1),
        "git_log_notes_s": round(git_log, 3),
        "verify_s": round(verify, 3),
        "verify_exit": code,
        "verify_ratio": round(verify / git_log, 2),
        "target_ratio": 3.0,
        "git_log_notes_median_s": round(git_log_median, 3),
        "verify_median_s": round(verify_median, 3),
        "verify_median_ratio": round(verify_median / git_log_median, 2),
        "git_log_notes_cpu_s": round(git_log_cpu, 3),
        "verify_cpu_s": round(verify_cpu, 3),
        "verify_cpu_ratio": round(verify_cpu / git_log_cpu, 2) if git_log_cpu else None,
        "verify_git_processes": spawned["git"],
        "verify_other_processes": spawned["other"],
        "verify_all_signatures_s": round(verify_all, 3),
        "verify_all_signatures_exit": code_all,
        "python_start_s": round(floor, 3),
        "python_start_and_imports_s": round(startup, 3),
        "cli": " ".join(Path(c).name for c in cli),
        "cores": os.cpu_count(),
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

"""Benchmark: ``govops audit MODEL`` and ``govops report`` on a large GitOps history.

Builds (with ``git fast-import``) a repository of 10,000 commits and 1,000 specs over a
bit more than a year: pull requests merged with merge commits ("Merge pull request #N
from …", branch commit + merge) and squash merges ("… (#N)"), each adding a version and
promoting it; a rollout ledger note (``refs/notes/govops``, ``engine.audit.ledger``'s record
format) on every change that landed on main; a few automatic shutdowns by the govops bot.

Measures, in the same run:
- ``git log -- PATH`` for one model's spec file (the floor: plain git);
- ``govops audit MODEL`` (in-process ``audit_model`` and the CLI end to end);
- the naive GitPython walk-and-diff baseline (``iter_commits`` + ``diff`` per commit), on a
  slice of the history and extrapolated to the whole (it says so);
- ``govops report --since <one year ago>`` (HTML), in-process and CLI.

Run: ``.venv/bin/python benchmarks/audit.py [--commits N] [--specs N] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

TENANTS = {"clinical": ["dana.ds", "eli.mle"], "oncology": ["gus.ds"], "beverages": ["ivan.ds"], "lab": ["kim.ds"]}
APPROVERS = {"clinical": "fay.lead", "oncology": "hana.lead", "beverages": "jo.lead", "lab": "lee.lead"}
START = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)
SPAN = timedelta(days=440)


def spec_text(tenant: str, name: str, versions: list[int], champion: int) -> str:
    """A valid low-tier spec with ``versions`` (1.N.0), lineage parents and a champion."""
    vs = []
    for n in versions:
        digest = hashlib.sha256(f"{tenant}/{name}/{n}".encode()).hexdigest()
        parent = f"\n        parent: 1.{n - 1}.0" if n > 0 and (n - 1) in versions else ""
        vs.append(
            f"    - id: 1.{n}.0\n"
            f"      artifact:\n        uri: s3://models/{tenant}/{name}/1.{n}.0/model.joblib\n"
            f"        sha256: {digest}\n"
            f"      runtime: mlserver_sklearn.SKLearnModel\n"
            f"      lineage:\n        trainingData:\n          uri: s3://data/{tenant}/{name}/train-{n}.csv\n"
            f"          sha256: {digest[::-1]}\n"
            f"        code: {{repo: \"https://git.example.com/{tenant}/training\", commit: \"c{n:07x}\"}}{parent}\n"
        )
    owners = ", ".join(TENANTS[tenant])
    return (
        "apiVersion: govops/v1\nkind: Model\n"
        f"metadata:\n  name: {name}\n  tenant: {tenant}\n  owners: [{owners}]\n"
        f"  description: Benchmark model {name}.\n"
        "spec:\n  tier: low\n  task: classification\n"
        "  interface:\n    inputs:\n      - {name: x1, type: float, min: 0, max: 1}\n"
        "      - {name: x2, type: float, min: 0, max: 1}\n"
        "    outputs:\n      - {name: y, type: integer, categories: [0, 1]}\n"
        "  versions:\n" + "".join(vs) +
        f"  deployment:\n    environment: production\n    champion: 1.{champion}.0\n"
    )


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def build_repo(path: Path, commits: int = 10_000, specs: int = 1_000, seed: int = 7) -> dict[str, Any]:
    """Create the repository at ``path`` (two ``git fast-import`` runs: history, then notes)."""
    rng = random.Random(seed)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    config = (PROJECT / "govops.yaml").read_text()
    models = [(list(TENANTS)[i % len(TENANTS)], f"model-{i:04d}") for i in range(specs)]
    state = {m: [0] for m in models}
    out: list[bytes] = []
    mark = 0
    step = SPAN / commits
    when = START

    def stamp(t: datetime) -> bytes:
        return b"%d +0000" % int(t.timestamp())

    def commit(ref: str, who: tuple[str, str], t: datetime, msg: str, body: list[bytes], parents: list[str]) -> int:
        nonlocal mark
        mark += 1
        out.append(b"commit %s\nmark :%d\n" % (ref.encode(), mark))
        out.append(b"author %s <%s> %s\n" % (who[0].encode(), who[1].encode(), stamp(t)))
        out.append(b"committer %s <%s> %s\n" % (who[0].encode(), who[1].encode(), stamp(t)))
        out.append(_data(msg))
        for i, p in enumerate(parents):
            out.append(b"%s %s\n" % (b"from" if i == 0 else b"merge", p.encode()))
        out.extend(body)
        return mark

    files = [b"M 100644 inline govops.yaml\n" + _data(config)]
    for (ten, nam), vers in state.items():
        files.append(b"M 100644 inline specs/%s/%s.yaml\n" % (ten.encode(), nam.encode())
                     + _data(spec_text(ten, nam, vers, vers[-1])))
    main = commit("refs/heads/main", ("Platform Admin", "admin@example.com"), when, "Import model specs\n", files, [])
    count, pr = 1, 0
    landed: list[tuple[int, tuple[str, str], int, datetime, str]] = []  # (mark, model, version, time, kind)
    people = [(p, f"{p}@example.com") for ps in TENANTS.values() for p in ps]
    while count < commits:
        model = models[int(rng.paretovariate(1.2) * 7) % len(models)] if rng.random() < 0.3 else rng.choice(models)
        tenant, name = model
        vs = state[model]
        when += step
        if rng.random() < 0.01 and len(vs) > 1:  # automatic shutdown: the bot moves traffic back
            text = spec_text(tenant, name, vs, vs[-2])
            body = [b"M 100644 inline specs/%s/%s.yaml\n" % (tenant.encode(), name.encode()) + _data(text)]
            main = commit("refs/heads/main", ("govops-bot", "govops-bot@example.com"), when,
                          f"govops: automatic shutdown of {tenant}/{name} 1.{vs[-1]}.0 (health critical)\n",
                          body, [f":{main}"])
            landed.append((main, model, vs[-2], when, "shutdown"))
            count += 1
            continue
        vs.append(vs[-1] + 1)
        if len(vs) > 8:
            vs.pop(0)
        text = spec_text(tenant, name, vs, vs[-1])
        body = [b"M 100644 inline specs/%s/%s.yaml\n" % (tenant.encode(), name.encode()) + _data(text)]
        who = rng.choice([p for p in people if p[0] in TENANTS[tenant]] or people)
        pr += 1
        approve = f"\nApproved-by: {APPROVERS[tenant]}\n"
        if rng.random() < 0.66 and count + 2 <= commits:
            branch = commit("refs/heads/pr", who, when, f"Add {name} 1.{vs[-1]}.0\n", body, [f":{main}"])
            when += step
            main = commit("refs/heads/main", ("GitHub", "noreply@github.com"), when,
                          f"Merge pull request #{pr} from {who[0]}/{name}-{vs[-1]}\n\n"
                          f"Add {name} 1.{vs[-1]}.0\n{approve}",
                          body, [f":{main}", f":{branch}"])
            count += 2
        else:
            main = commit("refs/heads/main", who, when, f"Add {name} 1.{vs[-1]}.0 (#{pr})\n{approve}", body,
                          [f":{main}"])
            count += 1
        landed.append((main, model, vs[-1], when, "rollout"))
    marks = path / ".git" / "bench-marks"
    subprocess.run(["git", "fast-import", "--quiet", f"--export-marks={marks}"], cwd=path,
                   input=b"".join(out), check=True)
    sha_of = dict(line.split() for line in marks.read_text().splitlines())
    notes: list[bytes] = []
    for m, (tenant, name), v, t, kind in landed:
        sha = sha_of[f":{m}"]
        model_id = f"{tenant}/{name}"
        version = f"1.{v}.0"
        uri = f"s3://models/{tenant}/{name}/{version}/model.joblib"
        digest = hashlib.sha256(f"{tenant}/{name}/{v}".encode()).hexdigest()
        outcome = "failed" if rng.random() < 0.02 else "succeeded"
        rec = {
            "kind": "govops.shutdown/v1" if kind == "shutdown" else "govops.rollout/v1",
            "recorded": (t + timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "actor": "govops-bot", "target": "local", "ref": "main", "commit": sha,
            "digest": f"{rng.getrandbits(256):064x}", "previous_digest": None, "outcome": outcome,
            "message": "", "changes": [{"action": "load", "model": model_id, "version": version, "role": "champion"}],
            "health": [], "steps": [],
            "evidence": {
                "validation": [
                    {"check": c, "model": model_id, "version": version,
                     "status": "fail" if (c == "performance" and outcome == "failed") else "pass",
                     "summary": f"{c} ok", "metrics": [],
                     "inputs": [{"role": "candidate_model", "uri": uri, "sha256": digest}]}
                    for c in ("performance", "data_quality")
                ],
                "policy_decisions": [{"decision_id": f"d-{m}", "path": "govops/main", "model": model_id,
                                      "result": {"deny": [], "warn": []}, "revision": "bench"}],
                "context": {"approvals": [{"approver": APPROVERS[tenant], "group": None}]},
            },
        }
        line = json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n"
        notes.append(b"N inline %s\n" % sha.encode() + _data(line))
    head = [b"commit refs/notes/govops\n", b"committer govops <govops@example.com> %d +0000\n"
            % int(when.timestamp()), _data("Notes added by 'git notes append'")]
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(head + notes), check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=path, check=True)
    # what `git gc` leaves behind in any maintained clone (gc.writeCommitGraph defaults to true)
    subprocess.run(["git", "commit-graph", "write", "--reachable"], cwd=path, check=True, capture_output=True)
    n = int(subprocess.run(["git", "rev-list", "--count", "main", "pr"], cwd=path, capture_output=True,
                           text=True, check=True).stdout)
    return {"commits": n, "specs": specs, "notes": len(landed), "end": when}


def timed(fn: Callable[[], object], repeat: int = 7) -> float:
    """Best wall time of ``fn()`` over ``repeat`` runs, in seconds.

    The machine is shared: the minimum is the least disturbed run, for the baseline and
    for govops alike.
    """
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def naive_audit(repo_dir: Path, path: str, limit: int) -> tuple[int, float]:
    """GitPython walk-and-diff over the first ``limit`` commits of main: (commits walked, seconds)."""
    import git

    t = time.perf_counter()
    hits = 0
    walked = 0
    with git.Repo(repo_dir) as repo:
        for c in repo.iter_commits("main", max_count=limit):
            walked += 1
            parent = c.parents[0] if c.parents else None
            diffs = parent.diff(c) if parent is not None else []
            if any(d.a_path == path or d.b_path == path for d in diffs):
                hits += 1
                try:
                    repo.git.notes("--ref", "govops", "show", c.hexsha)
                except git.GitCommandError:
                    pass
    return walked, time.perf_counter() - t


def main() -> int:
    """Build the repository, run every measurement, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--specs", type=int, default=1_000)
    parser.add_argument("--naive-slice", type=int, default=1_000, help="commits walked by the naive baseline")
    parser.add_argument("--keep", type=Path, help="build the repository here and keep it")
    args = parser.parse_args()

    from engine.audit.compliance import build_report
    from engine.audit.compliance_render import render_html
    from engine.audit.timeline import audit_model

    tmp = Path(tempfile.mkdtemp(prefix="govops-bench-audit-"))
    repo_dir = args.keep or tmp / "repo"
    try:
        t = time.perf_counter()
        info = build_repo(repo_dir, args.commits, args.specs)
        build_s = time.perf_counter() - t
        # the model with the median number of changes
        counts = subprocess.run(["git", "log", "--first-parent", "--format=", "--name-only", "main", "--", "specs"],
                                cwd=repo_dir, capture_output=True, text=True, check=True).stdout.split()
        freq: dict[str, int] = {}
        for p in counts:
            freq[p] = freq.get(p, 0) + 1
        ranked = sorted(freq, key=lambda p: freq[p])
        path = ranked[len(ranked) // 2]
        busiest = ranked[-1]
        model = "/".join(Path(path).with_suffix("").parts[-2:])
        busy_model = "/".join(Path(busiest).with_suffix("").parts[-2:])
        env = {**os.environ, "PYTHONPATH": str(PROJECT)}
        py = sys.executable

        plain = timed(lambda: subprocess.run(["git", "log", "--", path], cwd=repo_dir, capture_output=True,
                                             check=True))
        audit_in = timed(lambda: audit_model(repo_dir, model))
        events = len(audit_model(repo_dir, model).events)
        audit_busy = timed(lambda: audit_model(repo_dir, busy_model), repeat=3)
        busy_events = len(audit_model(repo_dir, busy_model).events)
        audit_cli = timed(lambda: subprocess.run([py, "-m", "engine.cli", "-C", str(repo_dir), "audit", model,
                                                  "--format", "json"], env=env, capture_output=True, check=True),
                          repeat=3)
        py_start = timed(lambda: subprocess.run([py, "-c", "import engine.cli, engine.audit.timeline, "
                                                 "engine.audit.timeline_render"],
                                                env=env, capture_output=True, check=True), repeat=3)
        walked, naive_s = naive_audit(repo_dir, path, args.naive_slice)
        naive_full = naive_s * info["commits"] / max(walked, 1)
        since = (info["end"] - timedelta(days=365)).date().isoformat()
        since_dt = datetime.fromisoformat(since + "T00:00:00+00:00")
        t = time.perf_counter()
        doc = build_report(repo_dir, since=since_dt)
        html = render_html(doc)
        report_in = time.perf_counter() - t
        report_cli = timed(lambda: subprocess.run([py, "-m", "engine.cli", "-C", str(repo_dir), "report", "--since",
                                                   since, "--out", str(tmp / "report.html")], env=env,
                                                  capture_output=True, check=True), repeat=1)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)

    rows = [
        ("repository", f"{info['commits']} commits, {info['specs']} specs, {info['notes']} notes (built in "
                       f"{build_s:.1f} s)"),
        (f"git log -- {path}", f"{plain * 1000:.0f} ms"),
        (f"audit_model({model}) in-process, {events} events", f"{audit_in * 1000:.0f} ms  "
                                                               f"({audit_in / plain:.1f}x git log)"),
        (f"audit_model({busy_model}) busiest, {busy_events} events", f"{audit_busy * 1000:.0f} ms"),
        ("govops audit MODEL --format json (CLI)", f"{audit_cli * 1000:.0f} ms  ({audit_cli / plain:.1f}x git log; "
                                                   f"of which Python start + imports {py_start * 1000:.0f} ms)"),
        (f"naive GitPython walk+diff ({walked} commits walked)", f"{naive_s:.1f} s"),
        ("naive, extrapolated to the whole history", f"~{naive_full:.0f} s  ({naive_full / audit_in:.0f}x "
                                                     "audit_model)"),
        (f"compliance report since {since} in-process ({len(doc['changes'])} changes, {len(html) // 1024} KiB HTML)",
         f"{report_in:.1f} s"),
        ("govops report --since (CLI)", f"{report_cli:.1f} s  (target < 10 s)"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement'.ljust(width)}  result")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make demo`: the govops story on embedded defaults, one stage after another.

Builds a throwaway GitOps repository from the example content (real git, real models),
then walks it through the whole story: specs -> lint -> policy -> rollout of main -> a risky
PR stopped by validation -> a safe PR merged -> rollout with evidence -> the gateway ->
monitoring -> audit. Every step runs the real `govops` CLI and prints its output, so the
demo is also a smoke test.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
BOLD, DIM, GREEN, RED, RESET = (
    ("\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m") if sys.stdout.isatty() else ("",) * 5
)


def stage(n: int, title: str, why: str) -> None:
    print(f"\n{BOLD}== {n}. {title}{RESET}")
    print(textwrap.fill(why, 100, initial_indent="   ", subsequent_indent="   "))


def run(repo: Path, *args: str, expect: int | tuple[int, ...] = 0, show: int = 40) -> subprocess.CompletedProcess[str]:
    shown = " ".join(args)
    print(f"{DIM}$ govops {shown}{RESET}")
    env = {**os.environ, "USER": "ci"}
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


ACTORS = {
    "dana": ("Dana Ds", "dana.ds@example.com"),
    "gus": ("Gus Ds", "gus.ds@example.com"),
    "hana": ("Hana Lead", "hana.lead@example.com"),
}


def git(repo: Path, *args: str, who: str = "dana") -> str:
    name, email = ACTORS[who]
    env = {**os.environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
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


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        raise SystemExit(f"demo: {path} no longer contains {old!r}")
    path.write_text(text.replace(old, new, 1))


def show_file(path: Path, lines: int = 18) -> None:
    out = path.read_text().rstrip().splitlines()
    for line in out[:lines]:
        print(f"   | {line}")
    if len(out) > lines:
        print(f"   | … ({len(out) - lines} more lines in {path.name})")


def infer(url: str, model: str, key: str, rows: list[list[float]], request_key: str | None = None) -> tuple[str, str]:
    """One V2 inference through the gateway; returns (version, route) from its headers."""
    body = {"inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64",
                        "data": [x for row in rows for x in row]}]}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    if request_key:
        headers["X-Govops-Key"] = request_key
    req = urllib.request.Request(f"{url}/v2/models/{model}/infer", data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["X-Govops-Version"], resp.headers["X-Govops-Route"]


def start_gateway(repo: Path, keys: str) -> subprocess.Popen[str]:
    env = {**os.environ, "GOVOPS_GATEWAY_KEYS": keys}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "gateway", "--port", "0"], cwd=repo, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    state = repo / ".govops" / "gateway.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gateway exited: {proc.stderr.read() if proc.stderr else ''}")
        if state.exists():
            try:
                url = json.loads(state.read_text())["url"]
                urllib.request.urlopen(f"{url}/v2/health/live", timeout=2)
                return proc
            except (OSError, ValueError, KeyError):
                pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("gateway did not start within 60 s")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="govops-demo-") as tmp:
        repo = make_repo(Path(tmp))
        out = Path(tmp) / "ci"
        gateway: subprocess.Popen[str] | None = None
        print(f"{BOLD}govops demo{RESET}: a GitOps repository of ML models at {repo}")
        try:
            stage(1, "Specs in Git", "Six models of four teams, all three risk tiers, declared as YAML specs with "
                  "artifacts pinned by sha256. lint checks YAML, schema and structure at file:line:col.")
            run(repo, "lint")
            run(repo, "catalog")
            spec = repo / "specs/lab/iris-species.yaml"
            original = spec.read_text()
            spec.write_text(original.replace("    champion: 1.0.0", "    champoin: 1.0.0"))
            print("   A typo never disables a control: a misspelt field is refused with the nearest valid name.")
            run(repo, "lint", expect=2, show=4)
            spec.write_text(original)

            stage(2, "Policy as code", "The risk team's Rego library (policies/) runs on an embedded engine "
                  "(regopy); every rule has a unit test. Re-checking main: every model complies.")
            run(repo, "policy", "test", show=3)
            run(repo, "check", "--all")

            stage(3, "Main goes live", "A merge to main rolls out: govops starts MLServer, verifies every "
                  "artifact's sha256, loads each version, smoke-tests it, then moves traffic. Evidence is "
                  "appended to a git note on the commit.")
            run(repo, "rollout", show=25)
            run(repo, "status", show=20)

            stage(4, "A risky pull request is stopped", "Dana promotes readmission-triage 2.0.0 (high tier) "
                  "from shadow to a 10% canary. Without approvals, policy denies it; with two approvals "
                  "including the risk group, policy passes but the tier's validators find the candidate "
                  "less fair and less accurate than the champion, so the PR check fails.")
            git(repo, "checkout", "-q", "-b", "dana/triage-canary")
            edit(repo / "specs/clinical/readmission-triage.yaml", "{version: 2.0.0, mode: shadow}",
                 "{version: 2.0.0, mode: canary, weight: 10}")
            git(repo, "commit", "-qam", "clinical: canary 2.0.0 at 10%")
            run(repo, "plan", "--base", "main", "--head", "HEAD")
            run(repo, "check", "--base", "main", "--head", "HEAD", "--author", "dana.ds", expect=1, show=8)
            print("   Dana cannot talk her way past the gate: she adds a waiver in the name of the risk group "
                  "and empties the deny rule. A change is judged by main's rules, read from Git, and a waiver "
                  "counts only once the person it names has really approved.")
            (repo / "policies/waivers.yaml").write_text(
                "waivers:\n  - {rule: GOV-APP-002, model: clinical/readmission-triage, reason: urgent,\n"
                "     approver: rita.risk, expires: '2027-06-01T00:00:00+00:00'}\n")
            edit(repo / "policies/main.rego", '"deny": [d | some d in raw_deny; not d in waived],', '"deny": [],')
            git(repo, "commit", "-qam", "policies: waive my own change")
            run(repo, "check", "--base", "main", "--head", "HEAD", "--author", "dana.ds", expect=1, show=10)
            git(repo, "reset", "-q", "--hard", "HEAD~1")
            run(repo, "pr-check", "--base", "main", "--head", "HEAD", "--author", "dana.ds",
                "--approved-by", "fay.lead", "--approved-by", "rita.risk:risk", "--out", str(out / "pr-11"),
                expect=1, show=20)
            print("   The reviewer's step summary (Markdown, also posted to GitHub):")
            show_file(out / "pr-11" / "summary.md", 24)
            git(repo, "checkout", "-q", "main")
            print("   Retiring a model is a change too: deleting its spec unloads it at merge, so the tier's "
                  "approvals, four-eyes and freezes apply to the deletion.")
            git(repo, "checkout", "-q", "-b", "dana/retire-triage")
            git(repo, "rm", "-q", "specs/clinical/readmission-triage.yaml")
            git(repo, "commit", "-qm", "clinical: retire readmission-triage")
            run(repo, "check", "--base", "main", "--head", "HEAD", "--author", "dana.ds", expect=1, show=5)
            git(repo, "checkout", "-q", "main")

            stage(5, "A safe pull request merges", "Gus ends oncology's A/B test: the random forest lost to the "
                  "logistic champion. One approval from the tenant's approver suffices at medium tier; the "
                  "validators pass on the champion.")
            git(repo, "checkout", "-q", "-b", "gus/end-ab-test")
            edit(repo / "specs/oncology/tumor-malignancy.yaml",
                 "    challengers:\n      - {version: 1.1.0, mode: ab, weight: 20}\n", "")
            git(repo, "commit", "-qam", "oncology: end the A/B test, keep the logistic champion", who="gus")
            run(repo, "pr-check", "--base", "main", "--head", "HEAD", "--author", "gus.ds",
                "--approved-by", "hana.lead", "--out", str(out / "pr-12"), show=16)
            run(repo, "ledger", "record-pr", str(out / "pr-12"), show=2)
            print("   The evidence is a git note on the PR head (refs/notes/govops-evidence): no CI artifact.")
            print("   With an Argo Server the validators run there, by reference to argo/'s pinned templates, and "
                  "each status links to its step (`govops argo status 12` shows the same in a terminal).")
            git(repo, "checkout", "-q", "main")
            git(repo, "merge", "-q", "--no-ff", "gus/end-ab-test", "-m",
                "Merge pull request #12 from gus/end-ab-test", who="hana")

            stage(6, "Merge rolls out", "The rollout diffs main against what serves (like kubectl diff), "
                  "unloads the challenger only after the others are healthy, and records the PR check's "
                  "evidence in the ledger. A second run changes nothing.")
            run(repo, "rollout", show=25)  # the PR's evidence is found through the merge commit
            run(repo, "rollout", show=6)
            run(repo, "ledger", "show", show=12)
            print("   Why was it allowed? explain re-evaluates the recorded decision at the recorded policy revision.")
            run(repo, "explain", "HEAD", "oncology/tumor-malignancy", show=10)

            stage(7, "Champion/challenger gateway", "The gateway speaks the Open Inference Protocol in front of "
                  "MLServer: lab/iris-species sends 20% of traffic to its canary, A/B assignment is sticky per "
                  "X-Govops-Key, each tenant has its own API key, and every prediction is logged to Parquet.")
            key = "lab-demo-key-0123456789"
            gateway = start_gateway(repo, f"lab={key},clinical=clinical-demo-key-0123,"
                                          f"oncology=oncology-demo-key-01,beverages=beverages-demo-key-0")
            url = json.loads((repo / ".govops" / "gateway.json").read_text())["url"]
            print(f"   gateway at {url}")
            with (repo / "artifacts/data/iris/evaluation.csv").open() as fh:
                table = [row for row in csv.DictReader(fh)]
            features = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
            pick = random.Random(7)
            seen: dict[str, int] = {}
            for i in range(200):
                rows = [[float(r[f]) for f in features] for r in pick.sample(table, 3)]
                version, route = infer(url, "lab--iris-species", key, rows, request_key=f"patient-{i}")
                seen[f"{version} ({route})"] = seen.get(f"{version} ({route})", 0) + 1
            print(f"   200 requests to lab/iris-species: {seen}")
            again = {infer(url, "lab--iris-species", key, rows, request_key="patient-7")[0] for _ in range(10)}
            print(f"   the same X-Govops-Key always reaches the same version: {sorted(again)}")
            with (repo / "artifacts/data/breast_cancer/evaluation.csv").open() as fh:
                cells = [row for row in csv.DictReader(fh)]
            columns = [c for c in cells[0] if c != "benign"]
            for _ in range(150):
                rows = [[float(r[c]) for c in columns] for r in pick.sample(cells, 4)]
                infer(url, "oncology--tumor-malignancy", "oncology-demo-key-01", rows)
            print("   150 requests of 4 rows each to oncology/tumor-malignancy with the oncology key")
            try:
                infer(url, "clinical--readmission-triage", key, [[50, 30, 90, 200, 120, 50, 4, 5, 90]])
            except urllib.error.HTTPError as exc:
                print(f"   the lab key calling a clinical model: HTTP {exc.code} (tenants are isolated)")

            stage(8, "Monitoring", "govops monitor reads the prediction log against each version's reference "
                  "profile: drift, performance, bias, anomalies, latency and KPIs roll up into a health score.")
            time.sleep(1.5)  # the gateway flushes its log every second
            run(repo, "monitor", "--once", "--model", "oncology/tumor-malignancy", expect=(0, 1), show=14)

            stage(9, "Audit", "Git history plus the ledger notes answer the auditor: the model's timeline, "
                  "what served on a date and on what evidence, the trail's integrity, and an offline report.")
            run(repo, "audit", "oncology/tumor-malignancy", show=14)
            run(repo, "audit", "oncology/tumor-malignancy", "--at", time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                                                                                  time.gmtime()), show=12)
            run(repo, "verify", show=6)
            note = git(repo, "notes", "--ref", "govops", "show", "HEAD")
            git(repo, "notes", "--ref", "govops", "remove", "HEAD")
            print("   Someone deletes the rollout's note to hide it: verify finds the gap in the hash chain.")
            run(repo, "verify", "--strict", expect=1, show=5)
            git(repo, "notes", "--ref", "govops", "add", "-f", "-m", note.rstrip("\n"), "HEAD")
            report = Path(tmp) / "compliance-report.html"
            run(repo, "report", "--format", "html", "--out", str(report), show=4)
            print(f"   {report.name}: {report.stat().st_size:,} bytes, self-contained (inline SVG, no CDN)")
            print("   A regulator asks for documentation: a model card, and the SR 11-7 controls the evidence covers.")
            card = Path(tmp) / "model-card.html"
            run(repo, "docs", "oncology/tumor-malignancy", "--format", "html", "--out", str(card), show=2)
            print(f"   {card.name}: {card.stat().st_size:,} bytes; every figure cites its commit and ledger record, "
                  "a missing fact says 'missing'")
            run(repo, "report", "--pack", "sr-11-7", "oncology/tumor-malignancy", "--format", "md", expect=(0, 1),
                show=20)
        finally:
            if gateway is not None:
                gateway.terminate()
                gateway.wait(timeout=20)
            subprocess.run([sys.executable, "-m", "engine.cli", "stop"], cwd=repo, capture_output=True, text=True)
        print(f"\n{BOLD}done{RESET}: PR -> policy -> validation -> merge -> rollout -> gateway -> monitoring -> audit, "
              "each step the real CLI on a real git repository.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

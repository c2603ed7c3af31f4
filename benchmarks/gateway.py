"""Gateway overhead: a real MLServer direct vs through `govops gateway` (champion, 10 % canary, shadow).

Run: .venv/bin/python benchmarks/gateway.py [--duration S] [--connections N]

Starts MLServer (lab/iris-species 1.0.0 and 1.1.0) and the gateway as separate processes on
loopback, then drives them with wrk (Debian package `wrk`) or, without it, a Python aiohttp
closed-loop client. Two load shapes per scenario: one connection (latency: added p50/p99)
and N connections (throughput). The gateway runs with auth on and the prediction log on
(sample rate 1). Prints a table with ratios against the direct baseline measured in the
same run. Targets (issue 8): p99 added < 1 ms, throughput >= 90 % of direct, shadow adds
nothing to the caller's p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.mlserver.process import MLServerProcess  # noqa: E402
from tests.helpers.gateway_helpers import FEATURES, IRIS, LAB_KEY, build_repo, v2_body  # noqa: E402

BODY = json.dumps(v2_body()).encode()


def table(url: str, extra: dict[str, dict[str, object]]) -> dict[str, object]:
    versions: dict[str, dict[str, object]] = {"1.0.0": {"role": "champion"}, **extra}
    return {"upstream": url, "models": {"lab/iris-species": {"inputs": FEATURES, "versions": versions}}}


def wrk(url: str, connections: int, duration: float, headers: dict[str, str]) -> dict[str, float]:
    lua = Path(tempfile.mkstemp(suffix=".lua")[1])
    hdrs = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    body = BODY.decode().replace("\\", "\\\\").replace('"', '\\"')
    lua.write_text(f'wrk.method = "POST"\nwrk.body = "{body}"\nwrk.headers["Content-Type"] = "application/json"\n'
                   + hdrs)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration:.0f}s", "--latency", "-s", str(lua), url],
                         capture_output=True, text=True, check=True).stdout
    lua.unlink()

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            raise RuntimeError(f"cannot read {label}% from wrk:\n{out}")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "errors": float(errors.group(1)) if errors else 0.0,
            "socket_errors": 1.0 if sock_err else 0.0}


async def _py_load(url: str, connections: int, duration: float, headers: dict[str, str]) -> dict[str, float]:
    import aiohttp

    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration
    h = {"Content-Type": "application/json", **headers}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as s:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                async with s.post(url, data=BODY, headers=h) as r:
                    await r.read()
                    errors += r.status != 200
                lat.append((time.perf_counter() - t0) * 1000)

        await asyncio.gather(*(worker() for _ in range(connections)))
    lat.sort()
    return {"rps": len(lat) / duration, "p50": lat[len(lat) // 2], "p99": lat[int(len(lat) * 0.99)],
            "errors": float(errors), "socket_errors": 0.0}


def load(url: str, connections: int, duration: float, headers: dict[str, str]) -> dict[str, float]:
    if shutil.which("wrk"):
        return wrk(url, connections, duration, headers)
    return asyncio.run(_py_load(url, connections, duration, headers))


def _cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _merge(runs: list[dict[str, float]]) -> dict[str, float]:
    def median(xs: list[float]) -> float:
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    return {"rps": sum(r["rps"] for r in runs) / len(runs), "p50": median([r["p50"] for r in runs]),
            "p99": median([r["p99"] for r in runs]), "errors": sum(r["errors"] for r in runs),
            "socket_errors": sum(r["socket_errors"] for r in runs)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per measurement (default 3)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds over all scenarios (default 3)")
    ap.add_argument("--connections", type=int, default=16, help="connections for the throughput run (default 16)")
    args = ap.parse_args()
    tool = "wrk" if shutil.which("wrk") else "python aiohttp client"
    with tempfile.TemporaryDirectory(prefix="govops-bench-gw-") as tmp_s:
        tmp = Path(tmp_s)
        repo = build_repo(tmp / "mlrepo")
        with MLServerProcess(repo) as ml:
            table_file = tmp / "table.json"
            table_file.write_text(json.dumps(table(ml.url, {})))
            env = {k: v for k, v in os.environ.items() if not k.startswith("GOVOPS_")}
            env.update(GOVOPS_GATEWAY_KEYS=f"lab={LAB_KEY}", GOVOPS_LOG_DIR=str(tmp / "logs"),
                       GOVOPS_GATEWAY_WATCH_S="0")
            (tmp / "gwroot").mkdir()
            (tmp / "gwroot" / "govops.yaml").write_text((ROOT / "govops.yaml").read_text())
            gw = subprocess.Popen([sys.executable, "-m", "engine.cli", "-C", str(tmp / "gwroot"), "gateway",
                                   "--port", "0", "--table", str(table_file)], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, text=True)
            try:
                line = gw.stdout.readline() if gw.stdout else ""
                gw_url = re.search(r"listening on (\S+)", line).group(1)  # type: ignore[union-attr]
                state = json.loads((tmp / "gwroot" / ".govops" / "gateway.json").read_text())
                auth = {"Authorization": f"Bearer {LAB_KEY}"}

                def use(extra: dict[str, dict[str, object]]) -> None:
                    table_file.write_text(json.dumps(table(ml.url, extra)))
                    r = requests.post(state["reload_url"], headers={"X-Govops-Reload-Token": state["reload_token"]},
                                      timeout=10)
                    r.raise_for_status()

                direct = f"{ml.url}/v2/models/{IRIS}/versions/1.0.0/infer"
                routed = f"{gw_url}/v2/models/{IRIS}/infer"
                scenarios = [
                    ("direct MLServer", direct, {}, None),
                    ("gateway: champion only", routed, auth, {}),
                    ("gateway: 10% canary", routed, auth, {"1.1.0": {"role": "canary", "weight": 10}}),
                    ("gateway: shadow", routed, auth, {"1.1.0": {"role": "shadow"}}),
                ]
                load(direct, 4, 2, {})  # warm-up both paths
                load(routed, 4, 2, auth)
                cpu0 = _cpu_seconds(gw.pid)
                # interleaved rounds (A B C D, A B C D, ...) so a noisy neighbour hits every scenario alike;
                # per scenario: requests/s summed over rounds, p50/p99 the median of the rounds' values
                runs: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {n: [] for n, *_ in scenarios}
                for rnd in range(args.rounds):
                    for name, url, headers, extra in scenarios:
                        if extra is not None:
                            use(extra)
                        lat = load(url, 1, args.duration, headers)
                        thr = load(url, args.connections, args.duration, headers)
                        runs[name].append((lat, thr))
                    print(f"  round {rnd + 1}/{args.rounds} done", file=sys.stderr)
                results = [(name, _merge([r[0] for r in runs[name]]), _merge([r[1] for r in runs[name]]))
                           for name, *_ in scenarios]
                cpu = _cpu_seconds(gw.pid) - cpu0
                metrics = requests.get(f"{gw_url}/metrics", headers=auth, timeout=10).text
            finally:
                gw.terminate()
                gw.wait(30)
    base_lat, base_thr = results[0][1], results[0][2]
    print(f"\ngateway benchmark ({tool}; 2 processes on loopback; {args.rounds} interleaved rounds of "
          f"{args.duration:.0f}s per run; "
          f"1 connection for latency, {args.connections} for throughput; {os.cpu_count()} cores)\n")
    head = ("scenario", "p50 ms", "p99 ms", "p99 added ms", f"req/s @{args.connections}", "vs direct", "p99 @N ms",
            "non-2xx")
    rows = [head]
    for name, lat, thr in results:
        rows.append((name, f"{lat['p50']:.3f}", f"{lat['p99']:.3f}",
                     "-" if name.startswith("direct") else f"{lat['p99'] - base_lat['p99']:+.3f}",
                     f"{thr['rps']:.0f}", f"{thr['rps'] / base_thr['rps']:.0%}", f"{thr['p99']:.2f}",
                     f"{int(lat['errors'] + thr['errors'])}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        print("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
    drops = re.search(r'govops_gateway_shadow_dropped_total\{model="lab/iris-species"\} ([\d.e+]+)', metrics)
    served = sum(float(v) for v in re.findall(r'^govops_gateway_requests_total\{[^}]*\} ([\d.e+]+)$', metrics, re.M))
    shadows = sum(float(v) for v in re.findall(r'^govops_gateway_shadow_requests_total\{[^}]*\} ([\d.e+]+)$',
                                               metrics, re.M))
    print(f"\ngateway CPU per routed request (all scenarios, incl. logging and shadow calls): "
          f"{cpu / max(served, 1) * 1e6:.0f} us over {served:.0f} requests and {shadows:.0f} shadow calls")
    print(f"shadow calls dropped (queue full): {float(drops.group(1)) if drops else 0:.0f}")
    print("targets: p99 added < 1 ms; throughput >= 90 % of direct; shadow p99 == champion-only p99")
    return 0


if __name__ == "__main__":
    sys.exit(main())

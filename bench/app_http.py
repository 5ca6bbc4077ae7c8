"""HTTP benchmark of the Django app under gunicorn, loaded with wrk on loopback.

Measures requests per second and p99 latency for:
  bare      a bare Django hello-world (bench/app_http_bare.py), the baseline
  /healthz  the app's liveness (answered by its first middleware)
  /         the app's hello view (whole middleware stack)
  /readyz   SELECT 1 in password mode, in iam mode, and in iam mode with CONN_MAX_AGE=0
            (a token and a TLS handshake per request: why connections persist)
Every server uses app/gunicorn.conf.py with the same workers/threads, one PostgreSQL 15
with TLS started here, verify-full for both modes. In iam mode the server trusts the role
(pg_hba), standing in for RDS's token check: the app still signs a token per connection.

Usage: .venv/bin/python bench/app_http.py [--duration 8] [--rounds 3] [--connections 16]
Needs wrk (Debian: apt-get install wrk). A script, not a test: it prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "tests" / "app"))

import app_harness  # noqa: E402
import app_pgcluster  # noqa: E402

HOST = app_harness.APP_HOST
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"socket_errors":%d,"non_2xx":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Row:
    label: str
    server: str
    path: str


ROWS = [
    Row("bare Django hello-world /", "bare", "/"),
    Row("app /healthz", "password", "/healthz"),
    Row("app / (hello)", "password", "/"),
    Row("app /readyz, password mode", "password", "/readyz"),
    Row("app /readyz, iam mode", "iam", "/readyz"),
    Row("app /readyz, iam, CONN_MAX_AGE=0", "iam_no_reuse", "/readyz"),
]


def gunicorn_env(port: int, extra: dict[str, str]) -> dict[str, str]:
    sizing = {
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_MAX_REQUESTS": "0",  # no worker recycling in the middle of a measurement
        "LOG_LEVEL": "WARNING",
    }
    return app_harness.subprocess_env({"GUNICORN_BIND": f"127.0.0.1:{port}", **sizing, **extra})


def start(name: str, extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = app_pgcluster.free_port()
    if name == "bare":
        command = [
            "gunicorn",
            "-c",
            str(app_harness.APP_DIR / "gunicorn.conf.py"),
            "app_http_bare:application",
        ]
        process = subprocess.Popen(
            command,
            cwd=BENCH_DIR,
            env=gunicorn_env(port, extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    else:
        process = subprocess.Popen(
            [str(app_harness.ENTRYPOINT), "serve"],
            env=gunicorn_env(port, extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    wait_ok(url + ("/" if name == "bare" else "/readyz"))
    return process, url


def wait_ok(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Host": HOST, "X-Forwarded-Proto": "https"})
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} never answered 200")


def process_tree_cpu_seconds(master_pid: int) -> float:
    """CPU time used by a gunicorn master and its workers, recycled ones included.

    Throughput on a shared 2-core machine moves with everyone else's load; CPU time per
    request much less so, which makes it the steadier basis for comparing rows.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended while we looked
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == master_pid:  # its own time, plus that of reaped (recycled) workers
            total += sum(int(value) for value in fields[11:15])
        elif ppid == master_pid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def run_wrk(
    url: str, seconds: int, connections: int, script: Path, strict: bool = True
) -> dict[str, float]:
    command = [
        "wrk",
        "-t1",
        "--timeout",
        "10s",
        f"-c{connections}",
        f"-d{seconds}s",
        "-s",
        str(script),
        "-H",
        f"Host: {HOST}",
        "-H",
        "X-Forwarded-Proto: https",
        url,
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    report = json.loads(output.strip().splitlines()[-1])
    if strict and (report["socket_errors"] or report["non_2xx"]):
        raise RuntimeError(f"{url}: errors during the run: {report}")
    return {
        "requests": report["requests"],
        "rps": report["requests"] / (report["duration_us"] / 1e6),
        "p99_ms": report["p99_us"] / 1000,
        "p50_ms": report["p50_us"] / 1000,
    }


def database_envs(cluster: app_pgcluster.Cluster) -> dict[str, dict[str, str]]:
    common = {
        "DB_HOST": "localhost",
        "DB_PORT": str(cluster.port),
        "DB_NAME": "appdb",
        "DB_SSLMODE": "verify-full",
        "DB_SSLROOTCERT": str(cluster.certs.ca_cert),
        "DB_CONN_MAX_AGE": "300",
    }
    password = app_harness.production_env(
        DB_AUTH_MODE="password", DB_USER="app_pw", DB_PASSWORD="bench-password", **common
    )
    iam = app_harness.production_env(DB_AUTH_MODE="iam", DB_USER="app_iam", **common)
    return {
        "bare": {},
        "password": password,
        "iam": iam,
        "iam_no_reuse": {**iam, "DB_CONN_MAX_AGE": "0"},
    }


def prepare_database() -> app_pgcluster.Cluster:
    cluster = app_pgcluster.start_cluster(
        [
            "hostssl appdb app_iam 127.0.0.1/32 trust",  # stands in for RDS's token check
            "hostssl appdb app_pw 127.0.0.1/32 scram-sha-256",
        ]
    )
    app_harness.create_role_and_database(cluster.admin_dsn, "app_pw", "appdb", "bench-password")
    with app_harness.psycopg.connect(cluster.admin_dsn, autocommit=True) as admin:
        admin.execute("CREATE ROLE app_iam LOGIN")
        admin.execute("GRANT CONNECT ON DATABASE appdb TO app_iam")
    return cluster


def measure(
    args: argparse.Namespace, servers: dict[str, tuple[int, str]], script: Path
) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {row.label: [] for row in ROWS}
    for round_number in range(args.rounds):
        for row in ROWS:  # interleaved, so drift of the machine spreads over every row
            master_pid, base_url = servers[row.server]
            url = base_url + row.path
            run_wrk(url, 2, args.connections, script, strict=False)  # warm-up: connections, caches
            cpu_before = process_tree_cpu_seconds(master_pid)
            run = run_wrk(url, args.duration, args.connections, script)
            cpu = process_tree_cpu_seconds(master_pid) - cpu_before
            run["cpu_us"] = cpu / run["requests"] * 1e6
            results[row.label].append(run)
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    return results


def report(results: dict[str, list[dict[str, float]]]) -> None:
    median = {
        label: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for label, runs in results.items()
    }
    print("\nmedians over the rounds; best = highest req/s of a round (least disturbed)")
    print(
        f"{'row':<36} {'req/s':>7} {'best':>7} {'spread':>7} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'CPU us/req':>10}"
    )
    for label, value in median.items():
        rates = [run["rps"] for run in results[label]]
        # Spread of req/s across rounds: how much the machine's other load moved the numbers.
        spread = (max(rates) - min(rates)) / value["rps"]
        print(
            f"{label:<36} {value['rps']:>7.0f} {max(rates):>7.0f} {spread:>7.0%}"
            f" {value['p50_ms']:>7.2f} {value['p99_ms']:>7.2f} {value['cpu_us']:>10.0f}"
        )
    print()
    compare(results, "app /healthz", ROWS[0].label, 0.90)
    compare(results, "app /readyz, iam mode", "app /readyz, password mode", 0.95)


def compare(
    results: dict[str, list[dict[str, float]]], row: str, baseline: str, aim: float
) -> None:
    """Ratios by median req/s, by best req/s, and by CPU time (baseline CPU / row CPU)."""
    median = {
        label: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for label, runs in results.items()
    }
    by_rps = median[row]["rps"] / median[baseline]["rps"]
    by_best = max(run["rps"] for run in results[row]) / max(run["rps"] for run in results[baseline])
    by_cpu = median[baseline]["cpu_us"] / median[row]["cpu_us"]
    ratios = (by_rps, by_best, by_cpu)
    verdict = "met" if min(ratios) >= aim else "MISSED" if max(ratios) < aim else "mixed"
    print(
        f"{row} vs {baseline}: median req/s {by_rps:.1%}, best req/s {by_best:.1%},"
        f" CPU per request {by_cpu:.1%} (aim >= {aim:.0%}): {verdict}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="median over this many rounds")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    print(
        f"cpus={os.cpu_count()} wrk: 1 thread, {args.connections} connections, "
        f"{args.duration}s x {args.rounds} rounds; gunicorn: 2 workers x 4 threads",
        file=sys.stderr,
    )
    cluster = prepare_database()
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "report.lua"
        script.write_text(WRK_REPORT)
        try:
            servers = {}
            for name, env in database_envs(cluster).items():
                process, url = start(name, env)
                processes.append(process)
                servers[name] = (process.pid, url)
            load_before = os.getloadavg()[0]
            results = measure(args, servers, script)
            report(results)
            print(
                f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}"
            )
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=40)
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""HTTP latency under gunicorn: p50/p95/p99 and throughput of the read endpoints with
concurrent clients.

Starts the mock upstream in this process (10,000 tickets over 4 tenants by default, a
generous limit, a /notify that never fails) and the service under gunicorn with the
project's own config (on the embedded engine: one worker with GUNICORN_THREADS threads),
ingests every tenant through the API, then for each scenario runs C client threads for D
seconds, each with its own keep-alive session, and prints latency percentiles and
requests per second. Clients and server share the machine's cores, so the figures are a
floor for what the server does on its own.

    .venv/bin/python bench/http_load_bench.py                       # 8 clients, 10 s per scenario
    .venv/bin/python bench/http_load_bench.py --clients 16 --seconds 20 --tickets 20000
    MONGO_URL=mongodb://localhost:27017 GUNICORN_WORKERS=4 .venv/bin/python bench/http_load_bench.py
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mock_api.config import MockConfig, NotifyConfig  # noqa: E402
from mock_api.testing import MockUpstreamServer  # noqa: E402

TENANTS = ("tenant_a", "tenant_b", "tenant_c", "tenant_d")


class Service:
    """gunicorn -c gunicorn.conf.py wsgi:app on a free port, its output drained (a full pipe
    would block the server's logging threads)."""

    def __init__(self, env: dict[str, str]):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PROMETHEUS_")}
        full_env.update(env, GUNICORN_BIND=f"127.0.0.1:{port}")
        self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                        cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/health", timeout=1)
                return
            except requests.RequestException:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise SystemExit("the service did not start:\n" + "".join(self.lines[-40:]))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def ingest_all(url: str) -> float:
    started = time.monotonic()
    jobs = [requests.post(f"{url}/ingest/run", params={"tenant_id": t}, timeout=10).json()["job_id"] for t in TENANTS]
    for job_id in jobs:
        while (body := requests.get(f"{url}/ingest/progress/{job_id}", timeout=10).json())["status"] == "running":
            time.sleep(0.2)
        if body["status"] != "completed":
            raise SystemExit(f"ingestion ended {body['status']}: {body['error']}")
    return time.monotonic() - started


def percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * share))]


def run_scenario(url: str, make_request, clients: int, seconds: float) -> dict:
    """``clients`` threads call ``make_request(session, rng)`` in a loop for ``seconds``."""
    latencies: list[float] = []
    errors: list[str] = []
    stop = threading.Event()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with requests.Session() as session:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    status = make_request(session, rng)
                except requests.RequestException as exc:
                    status = type(exc).__name__
                elapsed = time.perf_counter() - started
                if status in (200, 304):
                    latencies.append(elapsed)
                else:
                    errors.append(str(status))

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    latencies.sort()
    return {"n": len(latencies), "errors": len(errors), "rps": len(latencies) / wall,
            "p50": percentile(latencies, 0.50) * 1000 if latencies else float("nan"),
            "p95": percentile(latencies, 0.95) * 1000 if latencies else float("nan"),
            "p99": percentile(latencies, 0.99) * 1000 if latencies else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario")
    parser.add_argument("--tenant", default="tenant_a", help="the tenant the scenarios read (4/10 of the tickets)")
    args = parser.parse_args()

    config = MockConfig(tickets=args.tickets, rate_limit_calls=10_000, rate_limit_window_s=60.0,
                        notify=NotifyConfig(fail_first_attempts=0, latency_ms=(0.0, 0.0),
                                            outage_after_failures=0)).validate()
    with MockUpstreamServer(config) as mock:
        env = {"AUTH_MODE": "off", "LOG_LEVEL": "warning", "EXTERNAL_API_URL": mock.url, "SYNC_INTERVAL_S": "0",
               "RATE_LIMIT_CALLS": "10000", "RATE_LIMIT_WINDOW_S": "60"}
        service = Service(env)
        try:
            ingest_s = ingest_all(service.url)
            url, tenant = service.url, args.tenant
            health = requests.get(url + "/health", timeout=10).json()
            total = requests.get(f"{url}/tickets", params={"tenant_id": tenant, "page_size": 1}, timeout=10).json()["total"]
            ids = [t["id"] for t in requests.get(f"{url}/tickets", params={"tenant_id": tenant, "page_size": 100},
                                                 timeout=10).json()["tickets"]]
            etag = requests.get(f"{url}/tenants/{tenant}/stats", timeout=60).headers["ETag"]
            pages = max(1, min(total // 20, 200))
            scenarios = {
                "GET /tickets (page 1..N, 20 per page)":
                    lambda s, r: s.get(f"{url}/tickets", params={"tenant_id": tenant, "page": r.randint(1, pages)},
                                       timeout=60).status_code,
                "GET /tickets?urgency=high":
                    lambda s, r: s.get(f"{url}/tickets", params={"tenant_id": tenant, "urgency": "high"},
                                       timeout=60).status_code,
                "GET /tickets/{id}":
                    lambda s, r: s.get(f"{url}/tickets/{r.choice(ids)}", params={"tenant_id": tenant},
                                       timeout=60).status_code,
                "GET /tenants/{id}/stats (all time)":
                    lambda s, r: s.get(f"{url}/tenants/{tenant}/stats", timeout=60).status_code,
                "GET /tenants/{id}/stats (If-None-Match: 304)":
                    lambda s, r: s.get(f"{url}/tenants/{tenant}/stats", headers={"If-None-Match": etag},
                                       timeout=60).status_code,
            }
            print(f"machine: {platform.machine()} {os.cpu_count()} cores ({_cpu_model()}), "
                  f"Python {platform.python_version()}, engine={health['engine']}, "
                  f"gunicorn threads={os.environ.get('GUNICORN_THREADS', '8')}")
            print(f"data: {args.tickets} tickets over {len(TENANTS)} tenants, ingested in {ingest_s:.1f}s; "
                  f"reading {tenant} ({total} live tickets) with {args.clients} concurrent clients, "
                  f"{args.seconds:g}s per scenario")
            print(f"{'scenario':48} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
            for name, make_request in scenarios.items():
                result = run_scenario(url, make_request, args.clients, args.seconds)
                print(f"{name:48} {result['n']:8d} {result['rps']:7.1f} {result['p50']:8.1f} {result['p95']:8.1f} "
                      f"{result['p99']:8.1f} {result['errors']:6d}", flush=True)
        finally:
            service.stop()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()

"""CRF intake benchmark: the webhook under concurrent load, against a baseline from the same run.

    make bench-intake            # or: .venv/bin/python bench/intake.py --requests 2000

Starts gunicorn and a Celery worker on a scratch PostgreSQL database (`leadcrm_bench`, dropped
and recreated) with Redis, then measures, with the same client and concurrency:
- baseline: GET /healthz/ (the same stack and a database round trip, no intake work);
- new leads: POST of distinct leads (parse, store, commit, publish);
- re-deliveries: POST of a body already stored (the unique-constraint path);
- processing: time until the worker has applied every delivery.
Latencies are reported as ratios to the baseline, so the numbers travel between machines.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = json.loads((ROOT / "leads" / "samples" / "crf_lead.json").read_text())
SECRET = "bench-secret"


def main() -> None:
    args = parse_args()
    env = bench_env(args)
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
    with serve(env, args.port) as url, work(env):
        wait_for(url + "/healthz/")
        results = measure(url, args)
    print(report(results, args))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/leadcrm_bench")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/7")
    return parser.parse_args()


def bench_env(args) -> dict[str, str]:
    subprocess.run(
        ["dropdb", "--if-exists", "-h", "127.0.0.1", "-U", "postgres", "leadcrm_bench"], check=True
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "leadcrm_bench"], check=True)
    return {
        **os.environ,
        "IGNORE_DOTENV": "true",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": args.database,
        "CELERY_BROKER_URL": args.broker,
        "CRF_WEBHOOK_SECRET": SECRET,
    }


def run(command: list[str], env: dict) -> None:
    subprocess.run(command, cwd=ROOT, env=env, check=True)


class serve:
    def __init__(self, env: dict, port: int):
        self.env, self.port = env, port

    def __enter__(self) -> str:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "leadcrm.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--log-level",
                "warning",
                "--access-logfile",
                "/dev/null",
            ],  # gunicorn.conf.py logs each request otherwise
            cwd=ROOT,
            env=self.env,
        )
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


class work(serve):
    def __init__(self, env: dict):
        super().__init__(env, 0)

    def __enter__(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "leadcrm",
                "worker",
                "--concurrency",
                "2",
                "--loglevel",
                "WARNING",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=self.env,
        )


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    sys.exit(f"{url} did not answer within {timeout}s")


def timed(request: urllib.request.Request) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        if response.status >= 300:
            raise RuntimeError(f"{request.full_url} answered {response.status}")
    return time.perf_counter() - started


def load(requests: list[urllib.request.Request], concurrency: int) -> dict:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = sorted(pool.map(timed, requests))
    elapsed = time.perf_counter() - started
    return {
        "per_second": len(requests) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def lead_post(url: str, body: bytes) -> urllib.request.Request:
    return urllib.request.Request(
        url + "/webhooks/crf/leads/",
        data=body,
        method="POST",
        headers={"X-Api-Key": SECRET, "Content-Type": "application/json"},
    )


def measure(url: str, args) -> dict:
    n, c = args.requests, args.concurrency
    load([urllib.request.Request(url + "/healthz/")] * 50, c)  # warm-up
    baseline = load([urllib.request.Request(url + "/healthz/") for _ in range(n)], c)
    bodies = [json.dumps({**SAMPLE, "id": str(uuid.uuid4())}).encode() for _ in range(n)]
    started = time.perf_counter()
    new = load([lead_post(url, body) for body in bodies], c)
    repeat = load([lead_post(url, bodies[i % 50]) for i in range(n)], c)
    processed = wait_processed(url, started)
    return {
        "baseline": baseline,
        "new": new,
        "repeat": repeat,
        "processed_per_second": n / processed,
    }


def wait_processed(url: str, started: float, timeout: float = 600) -> float:
    while time.perf_counter() - started < timeout:
        with urllib.request.urlopen(url + "/healthz/", timeout=10) as response:
            backlog = json.loads(response.read())["lead_deliveries"]
        if backlog["pending"] == 0 and backlog["failed"] == 0:
            return time.perf_counter() - started
        time.sleep(0.25)
    sys.exit("the worker did not process every delivery in time")


def report(results: dict, args) -> str:
    base = results["baseline"]
    lines = [
        f"CRF intake, {args.requests} requests per case, {args.concurrency} concurrent clients, "
        "gunicorn 2x4 threads, 1 worker x2, PostgreSQL + Redis",
        f"{'case':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p50 / baseline':>16}",
    ]
    for name, key in [
        ("baseline GET /healthz/", "baseline"),
        ("POST new lead", "new"),
        ("POST re-delivery", "repeat"),
    ]:
        r = results[key]
        lines.append(
            f"{name:<22}{r['per_second']:>9.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
            f"{r['p50_ms'] / base['p50_ms']:>15.2f}x"
        )
    lines.append(
        "processing: every new lead applied at "
        f"{results['processed_per_second']:.0f} deliveries/s, "
        "counted from the first POST (the worker shares the two cores with the load)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()

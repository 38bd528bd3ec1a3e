"""Intake and batches against bare baselines: four comparisons, each side measured in turn.

    make bench                   # or: .venv/bin/python bench/compare.py --rounds 5
    .venv/bin/python bench/compare.py --no-fail --only intake,lag

Starts everything itself on scratch PostgreSQL databases (dropped and recreated, prefix
`leadcrm_compare`) and Redis databases 11 and 12, with PostgreSQL and Redis up on 127.0.0.1:

1. intake: CRF webhook under gunicorn (2 sync workers) vs `bench/bare_intake.py` under the same
   gunicorn, loaded by wrk (`bench/post_lead.lua`: a new lead id each request); throughput and
   p99, then the same body again and again (our duplicate path) against the same bare app.
2. batch: one 10,000-item CRS batch posted and answered vs psycopg `COPY` of the same rows into the
   same tables (a migrated copy of the schema).
3. worker: one Celery worker process draining N stored deliveries vs a loop calling
   `process_lead` for each lead, on identical backlogs (copies of one template database).
4. lag: leads posted at half the intake's measured maximum for a while, with a worker running;
   received_at -> processed_at of each, p50 and p99. On a server with autovacuum off, the
   database is vacuumed and analyzed every few seconds meanwhile, as autovacuum would.

The sides alternate round by round; each figure is the median of the rounds. Exits 1 when a
target is missed, unless --no-fail.
"""

import argparse
import base64
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bare_intake  # beside this file
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SAMPLE_PATH = ROOT / "leads" / "samples" / "crf_lead.json"
SAMPLE = json.loads(SAMPLE_PATH.read_text())
PY = sys.executable
SECRET = "bench-secret"
CRS_USER, CRS_PASSWORD = "crs-bench", "pw-bench-01234"  # CRS allows at most 15 characters
PREFIX = "leadcrm_compare"
OURS_DB, BARE_DB = PREFIX, f"{PREFIX}_bare"
COPY_DB = f"{PREFIX}_copy"  # the project's schema, empty: where the batch baseline copies to
BACKLOG_DB, DRAIN_DB = f"{PREFIX}_backlog", f"{PREFIX}_drain"
WEB_REDIS, WORKER_REDIS = 11, 12
COMPARISONS = ("intake", "batch", "worker", "lag")
# Seconds. More often than autovacuum's default minute: the lag rounds grow the tables from
# nothing to 20,000 leads in a minute and a half, weeks of a lender's leads.
VACUUM_EVERY = 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per comparison")
    parser.add_argument("--only", default=",".join(COMPARISONS), help="comma-separated subset")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even if a target fails")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--port", type=int, default=8811, help="ours; the bare app gets +1")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--batch", type=int, default=10_000, help="items in the CRS batch")
    parser.add_argument("--backlog", type=int, default=2000, help="deliveries the worker drains")
    parser.add_argument("--pool", default="prefork", choices=["prefork", "solo"])
    parser.add_argument("--lag-seconds", type=int, default=15, help="seconds of paced posting")
    args = parser.parse_args()
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(COMPARISONS)
    if unknown:
        parser.error(f"unknown comparison(s): {', '.join(sorted(unknown))}")
    if "lag" in args.only and "intake" not in args.only:
        parser.error("lag paces its posts at half the rate the intake comparison measures")
    return args


@dataclass
class Row:
    """A line of the summary table."""

    name: str
    ours: float
    baseline: float | None
    unit: str
    target: str = ""  # e.g. ">= 0.5"; empty: reported only
    check: Callable[[float], bool] | None = None
    problem: str = ""  # a reason to fail whatever the ratio (non-202 answers, say)

    @property
    def ratio(self) -> float | None:
        return self.ours / self.baseline if self.baseline else None

    @property
    def verdict(self) -> str:
        if self.problem:
            return "FAIL"
        if self.check is None:
            return ""
        value = self.ratio if self.baseline is not None else self.ours
        return "PASS" if self.check(value) else "FAIL"


def main() -> int:
    args = parse_args()
    started = time.perf_counter()
    print(machine(args))
    wrk = ensure_wrk() if "intake" in args.only else ""
    rows: list[Row] = []
    with contextlib.ExitStack() as processes:
        if {"intake", "batch", "lag"} & set(args.only):
            ours_url, bare_url = start_web(args, processes)
        if "intake" in args.only:
            intake = compare_intake(args, wrk, ours_url, bare_url)
            rows += intake
        if "batch" in args.only:
            rows += compare_batch(args, ours_url)
        if "worker" in args.only:
            rows += compare_worker(args)
        if "lag" in args.only:
            rows += measure_lag(args, ours_url, intake_rate=intake[0].ours)
        # Messages nobody will read (the intake's, with no worker running); the databases are
        # kept for a look afterwards and dropped by the next run.
        processes.callback(flush_redis, args, WEB_REDIS)
        processes.callback(flush_redis, args, WORKER_REDIS)
    print(summary(rows))
    print(f"\nTotal run time: {time.perf_counter() - started:.0f} s")
    failed = [row.name for row in rows if row.verdict == "FAIL"]
    if failed and not args.no_fail:
        print(f"Failed: {', '.join(failed)}")
        return 1
    return 0


# --- The machine and its services ---------------------------------------------------------------


def machine(args) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    with psycopg.connect(f"{args.postgres}/postgres") as connection:
        postgres = connection.execute("SHOW server_version").fetchone()[0]
    redis_version = redis.Redis.from_url(args.redis).info("server")["redis_version"]
    return (
        f"Machine: {os.cpu_count()} cores, {cpu}; PostgreSQL {postgres}, Redis {redis_version}, "
        f"Python {platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def ensure_wrk() -> str:
    """wrk's path, installed with apt-get (as root, or through sudo -n) when it is missing."""
    if found := shutil.which("wrk"):
        return found
    if os.geteuid() == 0:
        runner = []
    elif subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        runner = ["sudo", "-n"]
    else:
        sys.exit("wrk is needed for the intake comparison: install it (apt-get install wrk).")
    print("Installing wrk with apt-get...")
    apt = [*runner, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    subprocess.run([*apt, "update", "-qq"], capture_output=True)
    subprocess.run([*apt, "install", "-y", "-qq", "wrk"], capture_output=True)
    if found := shutil.which("wrk"):
        return found
    sys.exit("wrk is needed for the intake comparison and apt-get could not install it.")


def recreate_database(args, name: str, template: str | None = None) -> str:
    """Drop and create a scratch database (from `template` when given); returns its URL."""
    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        suffix = f' TEMPLATE "{template}"' if template else ""
        connection.execute(f'CREATE DATABASE "{name}"{suffix}')
    return f"{args.postgres}/{name}"


def flush_redis(args, number: int) -> None:
    redis.Redis.from_url(f"{args.redis}/{number}").flushdb()


def django_env(database_url: str, broker_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "IGNORE_DOTENV": "true",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "CRF_WEBHOOK_SECRET": SECRET,
        "CRS_WEBHOOK_USERNAME": CRS_USER,
        "CRS_WEBHOOK_PASSWORD": CRS_PASSWORD,
    }
    env.pop("CELERY_BROKER_URL", None)
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    return env


def migrate(env: dict) -> None:
    subprocess.run(
        [PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def start(
    processes: contextlib.ExitStack, command: list[str], env: dict, quiet: bool = False
) -> subprocess.Popen:
    """Start a process that is stopped (SIGTERM, then SIGKILL) when `processes` closes. `quiet`:
    its standard output is dropped (the worker's banner); errors still show."""
    stdout = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout)
    processes.callback(stop, process)
    return process


def autovacuum_stand_in(processes: contextlib.ExitStack, database_url: str) -> None:
    """On a server with autovacuum off, VACUUM ANALYZE the database every few seconds until
    `processes` closes, as autovacuum does on a server with it on (PostgreSQL's default, and
    production's): without fresh statistics, plans made while the tables were nearly empty
    (the foreign-key checks' among them) go on scanning them whole as they grow, and without
    vacuum every processed delivery leaves a dead row behind."""
    connection = psycopg.connect(database_url, autocommit=True)
    processes.callback(connection.close)
    if connection.execute("SHOW autovacuum").fetchone()[0] == "on":
        return
    print(f"  autovacuum is off on this server: VACUUM ANALYZE every {VACUUM_EVERY} s stands in")
    stopped = threading.Event()

    def run() -> None:
        while not stopped.wait(VACUUM_EVERY):
            connection.execute("VACUUM ANALYZE")

    thread = threading.Thread(target=run, name="autovacuum-stand-in", daemon=True)
    thread.start()
    processes.callback(thread.join)  # callbacks run last first: stopped is set before the join
    processes.callback(stopped.set)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# Warnings printed by every process, saying nothing about the benchmark: the static files are not
# collected (no page is served), and the worker runs as root (as it does in this machine's CI).
QUIET = ["-W", "ignore:No directory at", "-W", "ignore:You're running the worker with superuser"]


def gunicorn(app: str, port: int) -> list[str]:
    config = str(BENCH / "gunicorn_settings.py")
    return [PY, *QUIET, "-m", "gunicorn", app, "--config", config, "--bind", f"127.0.0.1:{port}"]


def celery_worker(*options: str) -> list[str]:
    return [
        PY,
        *QUIET,
        "-m",
        "celery",
        "-A",
        "leadcrm",
        "worker",
        "--loglevel",
        "WARNING",
        "--without-mingle",
        "--without-gossip",
        *options,
    ]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return  # it answers: the bare app has no health page
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    sys.exit(f"{url} did not answer within {timeout:.0f} s")


def start_web(args, processes: contextlib.ExitStack) -> tuple[str, str]:
    """Our webhook on OURS_DB and the bare app on BARE_DB, each under the same gunicorn."""
    ours_env = django_env(recreate_database(args, OURS_DB), f"{args.redis}/{WEB_REDIS}")
    migrate(ours_env)
    recreate_database(args, COPY_DB, template=OURS_DB)  # the same schema, for the COPY baseline
    flush_redis(args, WEB_REDIS)
    bare_url = recreate_database(args, BARE_DB)
    with psycopg.connect(bare_url) as connection:
        connection.execute(bare_intake.TABLE)
    bare_env = {**os.environ, "BARE_DATABASE_URL": bare_url, "BARE_SECRET": SECRET}
    start(processes, gunicorn("leadcrm.wsgi", args.port), ours_env)
    start(processes, gunicorn("bench.bare_intake:application", args.port + 1), bare_env)
    ours, bare = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"
    wait_for(ours + "/healthz/")
    wait_for(bare + "/")
    return ours, bare


# --- 1. CRF intake against the bare app ---------------------------------------------------------


def run_wrk(wrk: str, args, url: str, mode: str, seconds: int | None = None) -> dict:
    """One wrk run posting leads (`new`: a new id each; `repeat`: the sample again and again)."""
    command = [
        wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds or args.duration}s",
        "--latency",
        "-s",
        str(BENCH / "post_lead.lua"),
        url + "/webhooks/crf/leads/",
        "--",
        str(SAMPLE_PATH),
        SECRET,
        mode,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> dict:
    def number(pattern: str) -> float:
        found = re.search(pattern, output)
        return float(found.group(1)) if found else 0.0

    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if p99 is None:
        raise RuntimeError(f"no p99 in wrk's output:\n{output}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "per_second": number(r"Requests/sec:\s+([\d.]+)"),
        "p99_ms": float(p99.group(1)) * scale,
        "requests": int(number(r"(\d+) requests in")),
        # The script's own count, and wrk's (the script's would be missing if it failed).
        "non_202": int(max(number(r"non-202: (\d+)"), number(r"Non-2xx or 3xx responses: (\d+)"))),
        "socket_errors": errors.group(1) if errors else "",
    }


def compare_intake(args, wrk: str, ours: str, bare: str) -> list[Row]:
    print(
        f"\n1. CRF intake: wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
        "gunicorn 2 sync workers each side, no Celery worker running (publishes queue up)"
    )
    for url in (ours, bare):
        run_wrk(wrk, args, url, "new", seconds=2)  # warm-up, not counted
    sides = {
        "ours new": lambda: run_wrk(wrk, args, ours, "new"),
        "bare": lambda: run_wrk(wrk, args, bare, "new"),
        "ours repeat": lambda: run_wrk(wrk, args, ours, "repeat"),
    }
    results = alternate(args.rounds, sides, show_wrk)
    new, base, repeat = results["ours new"], results["bare"], results["ours repeat"]
    bad = sum(r["non_202"] for side in results.values() for r in side)
    problem = f"{bad} answers were not 202" if bad else ""
    return [
        Row(
            "CRF intake throughput",
            med(new, "per_second"),
            med(base, "per_second"),
            "req/s",
            ">= 0.5",
            lambda ratio: ratio >= 0.5,
            problem,
        ),
        Row(
            "CRF intake p99",
            med(new, "p99_ms"),
            med(base, "p99_ms"),
            "ms",
            "<= 2",
            lambda ratio: ratio <= 2,
            problem,
        ),
        Row(
            "CRF re-delivery throughput",
            med(repeat, "per_second"),
            med(base, "per_second"),
            "req/s",
            problem=problem,
        ),
        Row(
            "CRF re-delivery p99", med(repeat, "p99_ms"), med(base, "p99_ms"), "ms", problem=problem
        ),
    ]


def show_wrk(result: dict) -> str:
    text = f"{result['per_second']:7.0f} req/s  p99 {result['p99_ms']:6.1f} ms"
    text += f"  {result['requests']} requests"
    if result["non_202"]:
        text += f"  NON-202: {result['non_202']}"
    if result["socket_errors"]:
        text += f"  socket errors: {result['socket_errors']}"
    return text


def alternate(rounds: int, sides: dict[str, Callable], show: Callable) -> dict[str, list]:
    """Run each side once per round, in reverse order every other round; print each result."""
    results: dict[str, list] = {name: [] for name in sides}
    for number in range(rounds):
        names = list(sides) if number % 2 == 0 else list(reversed(sides))
        round_started = time.perf_counter()
        for name in names:
            result = sides[name]()
            results[name].append(result)
            print(f"  round {number + 1} {name:<12} {show(result)}", flush=True)
        print(f"  round {number + 1} took {time.perf_counter() - round_started:.0f} s")
    return results


def med(results: list, key: str | None = None) -> float:
    return statistics.median(r[key] for r in results) if key else statistics.median(results)


# --- 2. A CRS batch answered against COPY -------------------------------------------------------


def crs_batch(size: int, users: int) -> list[dict]:
    """A night's batch as CRS sends it (the same shape as tests/test_crs_integration.py's)."""
    user_ids = [str(uuid.uuid4()) for _ in range(users)]
    return [
        {
            "id": str(uuid.uuid4()),
            "type": "ACCALERT",
            "user_id": user_ids[n % users],
            "host_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
            "time": 1763784000 + n,
            "alert_id": str(uuid.uuid4()),
            "alert_date": "2026-11-21T04:00:00Z",
            "alert_source": "Equifax",
        }
        for n in range(size)
    ]


def post_batch(url: str, body: bytes) -> float:
    credentials = base64.b64encode(f"{CRS_USER}:{CRS_PASSWORD}".encode()).decode()
    request = urllib.request.Request(
        url + "/webhooks/crs/alerts/",
        data=body,
        method="POST",
        headers={"Authorization": f"Basic {credentials}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        answers = json.loads(response.read())
    elapsed = time.perf_counter() - started
    if response.status != 200 or not all(answer["status"] for answer in answers):
        raise RuntimeError(f"the CRS batch was answered {response.status} with refusals")
    return elapsed


ALERT_COLUMNS = (
    "id",
    "delivery_id",
    "type",
    "user_id",
    "host_id",
    "time",
    "error_code",
    "error_msg",
    "alert_id",
    "alert_date",
    "alert_date_sent",
    "alert_source",
    "extra",
    "problems",
    "received_at",
    "handled_note",
)


def copy_batch(database_url: str, body: bytes) -> float:
    """The same batch into the same tables with nothing but the work itself: parse the JSON, one
    INSERT for the raw batch, COPY of its people and its alerts, one commit."""
    started = time.perf_counter()
    items = json.loads(body)
    now = datetime.now(UTC)
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alerts_alertdelivery (received_at, body, headers, error, outcome, items,"
            " accepted) VALUES (%s, %s, '{}', '', 'answered', %s, %s) RETURNING id",
            (now, body, len(items), len(items)),
        )
        delivery = cursor.fetchone()[0]
        users = dict.fromkeys(item["user_id"] for item in items)
        with cursor.copy("COPY alerts_crsuser (id, name, email, first_seen_at) FROM STDIN") as copy:
            for user_id in users:
                copy.write_row((user_id, "", "", now))
        columns = ", ".join(ALERT_COLUMNS)
        with cursor.copy(f"COPY alerts_alert ({columns}) FROM STDIN") as copy:
            for item in items:
                copy.write_row(alert_row(item, delivery, now))
    return time.perf_counter() - started


def alert_row(item: dict, delivery: int, now: datetime) -> tuple:
    return (
        item["id"],
        delivery,
        item["type"],
        item["user_id"],
        item["host_id"],
        datetime.fromtimestamp(item["time"], UTC),
        "",
        "",
        item["alert_id"],
        datetime.fromisoformat(item["alert_date"]),
        item["alert_date"],
        item["alert_source"],
        "{}",
        "[]",
        now,
        "",
    )


def compare_batch(args, ours: str) -> list[Row]:
    print(f"\n2. A {args.batch:,}-item CRS batch: POST answered vs COPY into the same tables")
    copy_url = f"{args.postgres}/{COPY_DB}"
    users = max(1, args.batch * 2 // 5)  # as in the integration test: 4,000 people for 10,000
    post_batch(ours, json.dumps(crs_batch(100, 40)).encode())  # warm-up, not counted
    sides = {
        "ours": lambda: post_batch(ours, json.dumps(crs_batch(args.batch, users)).encode()),
        "COPY": lambda: copy_batch(copy_url, json.dumps(crs_batch(args.batch, users)).encode()),
    }
    results = alternate(args.rounds, sides, lambda seconds: f"{seconds:6.2f} s")
    return [
        Row(
            f"CRS batch of {args.batch:,} answered",
            med(results["ours"]),
            med(results["COPY"]),
            "s",
            "<= 3",
            lambda ratio: ratio <= 3,
        ),
    ]


# --- 3. The worker against the same service in a loop -------------------------------------------


def compare_worker(args) -> list[Row]:
    print(
        f"\n3. Processing {args.backlog} new leads: one Celery worker process "
        f"(--pool {args.pool} --concurrency 1) vs process_lead in a loop"
    )
    broker = f"{args.redis}/{WORKER_REDIS}"
    template_env = django_env(recreate_database(args, BACKLOG_DB), broker)
    migrate(template_env)
    stored = time.perf_counter()
    backlog("store", str(args.backlog), env=template_env)
    flush_redis(args, WORKER_REDIS)  # the intake's publishes: the backlog waits unqueued
    print(f"  stored the backlog in {time.perf_counter() - stored:.0f} s (receive_lead)")
    sides = {
        "worker": lambda: drain_with_worker(args, broker),
        "loop": lambda: drain_with_loop(args, broker),
    }
    results = alternate(args.rounds, sides, show_drain)
    return [
        Row(
            "Worker drain rate",
            med(results["worker"], "per_second"),
            med(results["loop"], "per_second"),
            "leads/s",
            ">= 0.5",
            lambda ratio: ratio >= 0.5,
        ),
    ]


def backlog(*command: str, env: dict) -> None:
    subprocess.run([PY, str(BENCH / "backlog.py"), *command], cwd=ROOT, env=env, check=True)


def drain_with_worker(args, broker: str) -> dict:
    """Queue the backlog (the sweep's call), then let one worker process drain it."""
    env = django_env(recreate_database(args, DRAIN_DB, template=BACKLOG_DB), broker)
    flush_redis(args, WORKER_REDIS)
    backlog("queue", env=env)
    started = time.perf_counter()
    with contextlib.ExitStack() as processes:
        start(processes, celery_worker("--pool", args.pool, "--concurrency", "1"), env, quiet=True)
        wait_drained(env["DATABASE_URL"], args.backlog)
    return drained(env["DATABASE_URL"], time.perf_counter() - started)


def drain_with_loop(args, broker: str) -> dict:
    """The same backlog, processed by `process_lead` in a loop in one plain process (the same
    settings: what processing publishes goes to a queue nobody reads)."""
    env = django_env(recreate_database(args, DRAIN_DB, template=BACKLOG_DB), broker)
    started = time.perf_counter()
    backlog("loop", env=env)
    flush_redis(args, WORKER_REDIS)
    return drained(env["DATABASE_URL"], time.perf_counter() - started)


def wait_drained(database_url: str, count: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            done = connection.execute(
                "SELECT count(*) FROM leads_leaddelivery WHERE outcome IN ('processed', 'failed')"
            ).fetchone()[0]
            if done >= count:
                return
            time.sleep(0.2)
    sys.exit(f"the worker did not process {count} deliveries within {timeout:.0f} s")


def drained(database_url: str, wall_seconds: float) -> dict:
    """The rate from the database: deliveries over the span of their processed_at times, the same
    measure for both sides (process start-up left out)."""
    with psycopg.connect(database_url) as connection:
        processed, failed, first, last = connection.execute(
            "SELECT count(*) FILTER (WHERE outcome = 'processed'),"
            " count(*) FILTER (WHERE outcome = 'failed'), min(processed_at), max(processed_at)"
            " FROM leads_leaddelivery"
        ).fetchone()
    span = (last - first).total_seconds()
    return {
        "per_second": (processed - 1) / span,
        "span": span,
        "wall": wall_seconds,
        "processed": processed,
        "failed": failed,
    }


def show_drain(result: dict) -> str:
    text = (
        f"{result['per_second']:6.1f} leads/s  ({result['processed']} in {result['span']:.1f} s;"
        f" {result['wall']:.1f} s with start-up)"
    )
    return text + (f"  FAILED: {result['failed']}" if result["failed"] else "")


# --- 4. Lag at half the maximum intake rate -----------------------------------------------------


def measure_lag(args, ours: str, intake_rate: float) -> list[Row]:
    rate = intake_rate / 2
    print(
        f"\n4. Lag: {rate:.0f} leads/s (half of {intake_rate:.0f}) for {args.lag_seconds} s, "
        "a Celery worker running (prefork, default concurrency: one process per core)"
    )
    database_url = f"{args.postgres}/{OURS_DB}"
    env = django_env(database_url, f"{args.redis}/{WEB_REDIS}")
    flush_redis(args, WEB_REDIS)  # what the intake comparison published: no worker was reading
    results = []
    with contextlib.ExitStack() as processes:
        autovacuum_stand_in(processes, database_url)
        start(processes, celery_worker(), env, quiet=True)
        # Warm-up: the worker is up once these are processed. The intake comparison's deliveries
        # before them stay pending: their messages were dropped with the queue.
        first = last_delivery(database_url) + 1
        paced_posts(ours, rate=5, seconds=2)
        wait_lag_window(database_url, first, timeout=120)
        for number in range(args.rounds):
            first = last_delivery(database_url) + 1
            sent = paced_posts(ours, rate, args.lag_seconds)
            lags = wait_lag_window(database_url, first, timeout=600)
            result = {**sent, "p50": percentile(lags, 50), "p99": percentile(lags, 99)}
            results.append(result)
            print(f"  round {number + 1} {show_lag(result)}", flush=True)
    bad = sum(result["non_202"] for result in results)
    return [
        Row("Lag p50 (received -> processed)", med(results, "p50"), None, "s"),
        Row(
            "Lag p99 (received -> processed)",
            med(results, "p99"),
            None,
            "s",
            "< 2 s",
            lambda seconds: seconds < 2,
            f"{bad} answers were not 202" if bad else "",
        ),
    ]


def paced_posts(url: str, rate: float, seconds: float) -> dict:
    """POST a new lead every 1/rate seconds on a fixed schedule, whatever the answers' pace (a
    request whose slot comes while every sender thread is busy goes out late)."""
    count = max(1, int(rate * seconds))
    statuses: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        body = json.dumps({**SAMPLE, "id": str(uuid.uuid4())}).encode()
        request = urllib.request.Request(
            url + "/webhooks/crf/leads/",
            data=body,
            method="POST",
            headers={"X-Api-Key": SECRET, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:  # refused, reset or timed out: counted as not answered 202
            status = 0
        with lock:
            statuses.append(status)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as senders:
        for number in range(count):
            delay = started + number / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            senders.submit(post)
    elapsed = time.perf_counter() - started
    return {
        "sent": count,
        "per_second": count / elapsed,
        "non_202": sum(1 for status in statuses if status != 202),
    }


def last_delivery(database_url: str) -> int:
    with psycopg.connect(database_url) as connection:
        return connection.execute("SELECT coalesce(max(id), 0) FROM leads_leaddelivery").fetchone()[
            0
        ]


def wait_lag_window(database_url: str, first: int, timeout: float) -> list[float]:
    """Wait until every delivery from id `first` on is processed; their lags in seconds."""
    deadline = time.monotonic() + timeout
    query = (
        "SELECT extract(epoch FROM processed_at - received_at) FROM leads_leaddelivery"
        " WHERE id >= %s"
    )
    with psycopg.connect(database_url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            lags = [row[0] for row in connection.execute(query, (max(first, 1),)).fetchall()]
            if lags and all(lag is not None for lag in lags):
                return sorted(float(lag) for lag in lags)
            time.sleep(0.5)
    sys.exit(f"the worker did not process the deliveries from {first} on within {timeout:.0f} s")


def percentile(values: list[float], percent: float) -> float:
    index = min(len(values) - 1, max(0, round(len(values) * percent / 100) - 1))
    return sorted(values)[index]


def show_lag(result: dict) -> str:
    text = (
        f"{result['sent']} leads at {result['per_second']:.0f}/s: lag p50 {result['p50']:.2f} s,"
        f" p99 {result['p99']:.2f} s"
    )
    return text + (f"  NON-202: {result['non_202']}" if result["non_202"] else "")


# --- The summary --------------------------------------------------------------------------------


def summary(rows: list[Row]) -> str:
    lines = [
        "\nSummary (medians of the rounds; ratio = ours / baseline)",
        f"{'comparison':<36}{'ours':>12}{'baseline':>12}{'ratio':>8}  {'target':<8}{'':>5}",
    ]
    for row in rows:
        baseline = f"{row.baseline:.2f}" if row.baseline is not None else "-"
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        ours = f"{row.ours:.2f} {row.unit}"
        lines.append(
            f"{row.name:<36}{ours:>12}{baseline:>12}{ratio:>8}  {row.target:<8}{row.verdict:>5}"
            + (f"  ({row.problem})" if row.problem else "")
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""Workspace benchmark: the lead list, search, lead page and CSV export at 10k and at 1M leads.

    make bench-workspace         # or: .venv/bin/python bench/workspace.py --sizes 10000 1000000

For each size, a PostgreSQL database `leadcrm_bench_<size>` filled by `seed_demo --leads <size>
--seed 1` (kept, and reused while it holds that many leads; --fresh rebuilds it: a million
takes a quarter of an hour). Then, at each size, in fresh processes:
- pages as a loan officer, through the whole admin view and template (Django's test client):
  the list alone, with each filter (the ownership ones included: my leads, unassigned, untouched,
  overdue, follow-ups due), with each search, a lead's page, and the front page's worklist (as
  the officer, and as a manager, who also sees the team and the unassigned leads); median of
  --repeat after one warm-up request. Before the first run at a size, one lead in ten is given
  to the benchmark's officer, half of those contacted and a fifth with a follow-up, in one
  UPDATE each (kept with the database);
- `export_leads` of every lead: its time and its process's peak memory (max RSS), against
  `psql \\copy` of the same columns in the same order, a database writing CSV with no app.
Targets (issue "workspace"): each page at the large size ≤ 2× its time at the small size;
the export ≤ 3× psql's time; its peak memory at the large size ≤ 1.5× that at the small size.
Exits 1 when a target is missed.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgres://postgres@127.0.0.1:5432"
PAGE_TARGET, EXPORT_TARGET, MEMORY_TARGET = 2.0, 3.0, 1.5


def main() -> None:
    args = parse_args()
    small, large = args.sizes
    results = {}
    for size in (small, large):
        env = database(size, args.fresh)
        pages = json.loads(child(env, "pages", "--repeat", str(args.repeat)))
        exported = json.loads(child(env, "export"))
        results[size] = {
            "pages": pages,
            "export": exported,
            "psql": psql_copy(size, exported["sql"]),
        }
    text, passed = report(results, small, large, args.repeat)
    print(text)
    sys.exit(0 if passed else 1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs=2, default=[10_000, 1_000_000], metavar=("SMALL", "LARGE")
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page (default 5)")
    parser.add_argument(
        "--fresh", action="store_true", help="rebuild the databases even when filled"
    )
    return parser.parse_args()


def environment(size: int) -> dict[str, str]:
    return {
        **os.environ,
        "IGNORE_DOTENV": "true",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only",
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"{SERVER}/leadcrm_bench_{size}",
        "CELERY_BROKER_URL": "",
    }


def database(size: int, fresh: bool) -> dict[str, str]:
    env = environment(size)
    name = f"leadcrm_bench_{size}"
    if not fresh and leads_in(name) == size:
        print(f"{name}: {size} leads already there", file=sys.stderr)
        manage(env, "migrate", "--noinput", "-v", "0")  # indexes added since it was filled
        return env
    subprocess.run(["dropdb", "--if-exists", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    manage(env, "migrate", "--noinput", "-v", "0")
    started = time.monotonic()
    manage(env, "seed_demo", "--leads", str(size), "--seed", "1")
    print(f"{name}: seeded {size} leads in {time.monotonic() - started:.0f}s", file=sys.stderr)
    psql(name, "VACUUM ANALYZE", check=True)
    return env


def leads_in(name: str) -> int | None:
    found = psql(name, "SELECT count(*) FROM leads_lead", capture_output=True, text=True)
    return int(found.stdout) if found.returncode == 0 and found.stdout.strip().isdigit() else None


def psql(database: str, command: str, **run) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["psql", "-Atq", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-c", command], **run
    )


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def child(env: dict, *args: str) -> str:
    """This script again, in a fresh process on `env`'s database: its JSON result."""
    done = subprocess.run(
        [sys.executable, __file__, *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return done.stdout


def psql_copy(size: int, sql: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "psql.csv"
        started = time.perf_counter()
        psql(
            f"leadcrm_bench_{size}",
            f"\\copy ({sql}) to '{target}' with (format csv, header)",
            check=True,
        )
        return {"seconds": time.perf_counter() - started, "bytes": target.stat().st_size}


# --- Inside the project (child processes) ------------------------------------------------------


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")
    import django
    from django.conf import settings

    django.setup()
    # Pages render without `collectstatic` having run (production's manifest storage needs it).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def measure_pages(repeat: int) -> dict:
    from django.test import Client

    from leads.models import Lead

    client, manager = Client(), Client()
    me = officer()
    client.force_login(me)
    manager.force_login(officer("bench-manager", manager=True))
    give_leads(me)
    cases = [(name, url, client) for name, url in page_cases(Lead)]
    cases += [("worklist (officer)", "/admin/", client), ("worklist (manager)", "/admin/", manager)]
    timings = {}
    for name, url, client in cases:
        client.get(url)  # warm-up: caches, plans, pages of the indexes
        times, rows = [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
            if response.status_code != 200 or "?e=1" in response.get("Location", ""):
                raise SystemExit(f"{name}: {url} answered {response.status_code}")
            rows = response.content.count(b'class="action-select"')
        timings[name] = {"url": url, "ms": statistics.median(times) * 1000, "rows": rows}
    return timings


def officer(username: str = "bench-officer", manager: bool = False):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from leadcrm.roles import LENDING_MANAGER, LOAN_OFFICER

    role = LENDING_MANAGER if manager else LOAN_OFFICER

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": True})
    user.groups.set([Group.objects.get(name=role)])
    return user


def give_leads(user) -> None:
    """One lead in ten to the officer (by its id's hash, so the same ones each time), half of
    them contacted a few hours after creation, a fifth with a follow-up; once per database."""
    from django.db import connection

    from leads.models import Lead

    if Lead.objects.filter(assigned_officer=user).exists():
        return
    table = Lead._meta.db_table
    bucket = "abs(hashtext(id::text)) %% 100"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET assigned_officer_id = %s WHERE {bucket} < 10", [user.pk]
        )
        cursor.execute(
            f"UPDATE {table} SET first_contact_at = date_created + interval '5 hours'"
            f" WHERE {bucket} < 5",
            [],
        )
        cursor.execute(
            f"UPDATE {table} SET next_action_at = now() - interval '1 hour' * ({bucket} - 5)"
            f" WHERE {bucket} BETWEEN 5 AND 6",
            [],
        )
        cursor.execute(f"ANALYZE {table}")


def page_cases(Lead) -> list[tuple[str, str]]:
    """The list with each filter and search a loan officer has, with values real leads have."""
    from datetime import timedelta
    from urllib.parse import urlencode

    from django.utils import timezone

    from leads import demo
    from leads.models import Partner, Product, ProductSet

    lead = Lead.objects.order_by("date_created")[Lead.objects.count() // 2]  # one in the middle
    product = Product.objects.get(name=demo.PRODUCTS[0].name).pk
    product_set = ProductSet.objects.get(name=demo.PRODUCTS[0].product_set).pk
    source = Partner.objects.get(route=demo.LEAD_SOURCES[0][1]).pk
    partner = Partner.objects.get(route=demo.PRODUCTS[0].partner).pk
    # As the admin's own "Past 7 days" link writes it: midnight, with the time zone.
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    week_ago = midnight - timedelta(days=7)
    filters = [
        ("list", {}),
        ("filter: status", {"status__exact": "Matched"}),
        ("filter: state", {"state__exact": "Submitted"}),
        ("filter: fraud band 0", {"fraud": "zero"}),
        ("filter: fraud band ≥0.85", {"fraud": "withheld"}),
        ("filter: matched product", {"matched_product__id__exact": product}),
        ("filter: product set", {"product_set__id__exact": product_set}),
        ("filter: lead source", {"lead_source__id__exact": source}),
        ("filter: service partner", {"service_partner__id__exact": partner}),
        ("filter: business state", {"address_state": "Minnesota"}),
        ("filter: industry", {"industry__exact": lead.industry}),
        ("filter: FICO band", {"fico_score__exact": lead.fico_score}),
        ("filter: use of proceeds", {"use_of_proceeds__exact": lead.use_of_proceeds}),
        ("filter: years in business", {"years_in_business__exact": lead.years_in_business}),
        ("filter: CRA-eligible tract", {"cra_eligible_tract__exact": "1"}),
        ("filter: CDFI investment area", {"is_cdfi_investment_area__exact": "1"}),
        ("filter: data problems", {"problems": "yes"}),
        ("filter: my leads", {"officer": "me"}),
        ("filter: unassigned", {"officer": "none"}),
        ("filter: untouched", {"contact": "untouched"}),
        ("filter: overdue first contact", {"contact": "overdue"}),
        ("filter: my overdue first contacts", {"officer": "me", "contact": "overdue"}),
        ("filter: my follow-ups due", {"officer": "me", "follow_up": "due"}),
        ("filter: created, past 7 days", {"date_created__gte": str(week_ago)}),
        (
            "filters: status + fraud + product",
            {
                "status__exact": "Matched",
                "fraud": "zero",
                "matched_product__id__exact": product,
            },
        ),
        ("search: business name", {"q": lead.name_of_business}),
        ("search: last name", {"q": lead.last_name}),
        ("search: email", {"q": lead.email}),
        ("search: phone", {"q": lead.phone}),
        ("search: lead id", {"q": str(lead.id)}),
        ("search: submission id", {"q": str(lead.submission_id)}),
        ("search: duplicate id", {"q": lead.duplicate_id}),
    ]
    cases = [(name, "/admin/leads/lead/?" + urlencode(params)) for name, params in filters]
    return [*cases, ("lead page", f"/admin/leads/lead/{lead.pk}/change/")]


def measure_export() -> dict:
    import io
    import resource

    from django.core.management import call_command
    from django.db import connection

    from leads import export
    from leads.models import Lead

    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "leads.csv"
        started = time.perf_counter()
        call_command("export_leads", "-o", str(target), stdout=io.StringIO(), stderr=io.StringIO())
        seconds = time.perf_counter() - started
        size = target.stat().st_size
    # The same columns in the same order, as the database has them, for psql's \copy.
    lookups = [lookup for _, lookup, _ in export.columns(with_demographics=False)]
    sql, params = (
        Lead.objects.order_by("-date_created", "id").values_list(*lookups).query.sql_with_params()
    )
    import psycopg

    sql = psycopg.ClientCursor(connection.connection).mogrify(sql, params)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"seconds": seconds, "bytes": size, "peak_mib": peak / 1024, "sql": sql}


# --- The report --------------------------------------------------------------------------------


def report(results: dict, small: int, large: int, repeat: int) -> tuple[str, bool]:
    a, b = results[small], results[large]
    lines = [
        f"Pages as a loan officer: median of {repeat} after a warm-up (ms); "
        f"target ≤ {PAGE_TARGET}×.",
        "",
        f"| page | rows | {small:,} leads | {large:,} leads | ratio | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    passed = True
    for name, first in a["pages"].items():
        second = b["pages"][name]
        ratio = second["ms"] / first["ms"]
        ok = ratio <= PAGE_TARGET
        passed &= ok
        lines.append(
            f"| {name} | {second['rows']} | {first['ms']:.1f} | {second['ms']:.1f} | "
            f"{ratio:.2f}× | {'ok' if ok else 'MISSED'} |"
        )
    lines += [
        "",
        "CSV export of every lead (`export_leads`) against `psql \\copy` of the same columns:",
        "",
        "| leads | export s | psql s | export / psql | CSV MiB | peak memory MiB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size, result in ((small, a), (large, b)):
        export, copied = result["export"], result["psql"]
        lines.append(
            f"| {size:,} | {export['seconds']:.1f} | {copied['seconds']:.1f} | "
            f"{export['seconds'] / copied['seconds']:.2f}× | {export['bytes'] / 2**20:.0f} | "
            f"{export['peak_mib']:.0f} |"
        )
    export_ratio = b["export"]["seconds"] / b["psql"]["seconds"]
    memory_ratio = b["export"]["peak_mib"] / a["export"]["peak_mib"]
    for label, value, target in [
        (f"export at {large:,} / psql", export_ratio, EXPORT_TARGET),
        (f"export peak memory at {large:,} / at {small:,}", memory_ratio, MEMORY_TARGET),
    ]:
        passed &= value <= target
        lines.append(
            f"\n{label}: {value:.2f}× (target ≤ {target}×) {'ok' if value <= target else 'MISSED'}"
        )
    return "\n".join(lines), passed


if __name__ == "__main__":
    if sys.argv[1:2] == ["pages"]:
        setup_django()
        print(json.dumps(measure_pages(int(sys.argv[3]))))
    elif sys.argv[1:2] == ["export"]:
        setup_django()
        print(json.dumps(measure_export()))
    else:
        main()

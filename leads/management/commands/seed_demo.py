"""`seed_demo`: generated CRF leads, written in bulk as the intake would leave them (demos,
`make run`, benchmarks at a million leads)."""

import multiprocessing
import os
import random
import secrets
import time
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.utils import timezone
from tqdm import tqdm

from alerts import demo as alert_demo
from alerts import services as alert_services
from alerts.models import CRSUser
from leads import demo, services
from leads.choices import DeliverySource
from leads.models import Lead
from leads.roles import LENDING_MANAGER, LOAN_OFFICER

DEMO_PASSWORD = "leadcrm-demo"  # printed on the console: DEBUG only
DEMO_LOGINS = [("officer", LOAN_OFFICER), ("manager", LENDING_MANAGER), ("admin", None)]


SHARD_LEADS = 10_000  # leads per task when several processes write (PostgreSQL)
HEADERS = {"Content-Type": "application/json", "User-Agent": "LeadCRM seed_demo"}


def _send_leads(job: tuple[int, int, datetime], progress=lambda leads: None) -> tuple[int, int]:
    """Generate `count` leads from `seed` and store them through the bulk intake; returns the
    leads and the deliveries (lead updates included) written."""
    count, seed, now = job
    sent = 0

    def generated():
        nonlocal sent
        for delivery in demo.deliveries(count, seed, now):
            sent += 1
            progress(delivery.first)
            # When CRF would have sent it: history dates spread over the weeks.
            yield delivery.body, delivery.when

    for _ in services.import_leads(generated(), source=DeliverySource.DEMO, headers=HEADERS):
        pass
    return count, sent


class Command(BaseCommand):
    help = (
        "Generate realistic CRF Connect leads (some with later lead updates) and store their "
        "deliveries, leads and status histories in bulk, as the intake would. With DEBUG on, "
        "also (re)creates the demo logins."
    )

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=300, help="how many leads (default 300)")
        parser.add_argument(
            "--if-empty", action="store_true", help="generate nothing when leads already exist"
        )
        parser.add_argument(
            "--alerts", type=int, default=0,
            help="also this many CRS credit alerts, in nightly batches, about people who are demo leads",
        )
        parser.add_argument(
            "--seed", type=int, help="random seed, to generate the same leads again (default: new)"
        )

    def handle(self, *args, leads: int, alerts: int, if_empty: bool, seed: int | None, **options):
        if leads < 0 or alerts < 0:
            raise CommandError("--leads and --alerts must be 0 or more.")
        if settings.DEBUG:
            self._demo_login()
        if if_empty and (existing := Lead.objects.count()):
            self.stdout.write(f"{existing} leads already exist: no demo leads added (--if-empty).")
            return
        seed = secrets.randbelow(1_000_000) if seed is None else seed
        started = time.monotonic()
        sent = self._send(leads, seed)
        self.stdout.write(self.style.SUCCESS(
            f"Demo data: {leads} leads in {sent} deliveries ({sent - leads} lead updates) "
            f"in {time.monotonic() - started:.1f}s (seed {seed})."
        ))
        if alerts:
            self._send_alerts(alerts, seed)

    def _send(self, count: int, seed: int) -> int:
        # The raw stream: Django's OutputWrapper would end each of tqdm's redraws with a newline.
        bar = tqdm(total=count, unit="lead", desc="Demo leads", file=self.stderr._out)
        now = timezone.now()
        with bar:
            if count <= SHARD_LEADS or connection.vendor != "postgresql":
                return _send_leads((count, seed, now), progress=bar.update)[1]
            # A shard of leads per task, a process per core: generating and reading leads is
            # Python's work, and PostgreSQL takes writers side by side. Each shard is seeded from
            # --seed, so a seed still repeats a run.
            jobs = [(min(SHARD_LEADS, count - start), seed * 100_000 + number, now)
                    for number, start in enumerate(range(0, count, SHARD_LEADS))]
            connections.close_all()  # forked workers must open connections of their own
            sent = 0
            with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
                for leads, deliveries in pool.imap_unordered(_send_leads, jobs):
                    bar.update(leads)
                    sent += deliveries
            return sent

    def _send_alerts(self, count: int, seed: int) -> None:
        rng = random.Random(seed)
        leads = list(Lead.objects.order_by("-date_created").values_list("id", "first_name", "last_name", "email")[:50])
        everyone = alert_demo.people(leads, rng)
        bar = tqdm(total=count, unit="alert", desc="Demo alerts", file=self.stderr._out)
        with bar:
            for _, batch in alert_demo.nightly_batches(count, everyone, rng, timezone.now()):
                bar.update(len(alert_services.receive_alerts(batch).answers))
        for person in everyone:  # staff would link these by hand in the admin
            CRSUser.objects.filter(pk=person.user_id).update(
                lead_id=person.lead_id, name=person.name, email=person.email
            )
        self.stdout.write(self.style.SUCCESS(f"Demo alerts: {count} CRS notifications about {len(everyone)} people."))

    def _demo_login(self) -> None:
        """The demo logins, one per role (DEBUG only); passwords reset every run, so the printed
        ones are right."""
        users = get_user_model().objects
        for username, group in DEMO_LOGINS:
            user, _ = users.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
            user.is_active = user.is_staff = True
            user.is_superuser = group is None
            user.set_password(DEMO_PASSWORD)
            user.save()
            if group:
                user.groups.set([Group.objects.get(name=group)])
        names = ", ".join(f"{u} ({g or 'superuser'})" for u, g in DEMO_LOGINS)
        self.stdout.write(self.style.WARNING(
            f"Demo logins (DEBUG only) at /admin/: {names}; password {DEMO_PASSWORD}"
        ))


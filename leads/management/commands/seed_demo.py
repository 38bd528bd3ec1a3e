"""`seed_demo`: generated CRF leads, written in bulk as the intake would leave them (demos,
`make run`, benchmarks at a million leads)."""

import random
import secrets
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
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
        sent = 0
        headers = {"Content-Type": "application/json", "User-Agent": "LeadCRM seed_demo"}
        # The raw stream: Django's OutputWrapper would end each of tqdm's redraws with a newline.
        bar = tqdm(total=count, unit="lead", desc="Demo leads", file=self.stderr._out)

        def generated():
            nonlocal sent
            for delivery in demo.deliveries(count, seed, timezone.now()):
                sent += 1
                bar.update(delivery.first)
                # When CRF would have sent it: history dates spread over the weeks.
                yield delivery.body, delivery.when

        with bar:
            for _ in services.import_leads(generated(), source=DeliverySource.DEMO, headers=headers):
                pass
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


"""`seed_demo`: realistic generated data for demos, `make run` and benchmarks at a million leads,
stored through the intake services. Each app adds its own in its `demo` module (its options and
`seed`), in INSTALLED_APPS order: leads before the alerts about their people."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from leadcrm import plugins
from leadcrm.roles import LENDING_MANAGER, LOAN_OFFICER

DEMO_PASSWORD = "leadcrm-demo"  # printed on the console: DEBUG only
DEMO_LOGINS = [("officer", LOAN_OFFICER), ("manager", LENDING_MANAGER), ("admin", None)]


class Command(BaseCommand):
    help = (
        "Generate realistic CRF Connect leads (some with later lead updates) and CRS alerts, "
        "and store them as the intake would. With DEBUG on, also (re)creates the demo logins."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="generate nothing of what already exists"
        )
        parser.add_argument(
            "--seed", type=int, help="random seed, to generate the same data again (default: new)"
        )
        for demo in plugins.each("demo"):
            demo.add_arguments(parser)

    def handle(self, *args, seed: int | None, **options):
        if settings.DEBUG:
            self._demo_login()
        seed = secrets.randbelow(1_000_000) if seed is None else seed
        for demo in plugins.each("demo"):
            demo.seed(self, seed=seed, **options)

    def _demo_login(self) -> None:
        """The demo logins, one per role (DEBUG only); passwords reset every run, so the printed
        ones are right."""
        users = get_user_model().objects
        for username, group in DEMO_LOGINS:
            user, _ = users.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.is_active = user.is_staff = True
            user.is_superuser = group is None
            user.set_password(DEMO_PASSWORD)
            user.save()
            if group:
                user.groups.set([Group.objects.get(name=group)])
        names = ", ".join(f"{u} ({g or 'superuser'})" for u, g in DEMO_LOGINS)
        self.stdout.write(
            self.style.WARNING(
                f"Demo logins (DEBUG only) at /admin/: {names}; password {DEMO_PASSWORD}"
            )
        )

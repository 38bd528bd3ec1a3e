"""Generated CRS notification batches for demos: nightly batches about credit-monitored people,
some of whom are demo leads. Generating builds JSON only; `seed` (what `manage.py seed_demo` asks
this app for) posts the batches through the intake service."""

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.management.base import CommandError
from django.utils import timezone
from tqdm import tqdm

from leads.models import Lead

from . import services
from .models import Alert, AlertType, CRSUser

# How often each type turns up in a night's batch: mostly credit alerts and refreshes.
TYPE_WEIGHTS = {
    AlertType.ACCALERT: 40,
    AlertType.SCOREREF: 20,
    AlertType.REPORTREF: 15,
    AlertType.ACCREG: 6,
    AlertType.ACCNEW: 5,
    AlertType.ACCLOGINFAIL: 4,
    AlertType.IDFAIL: 3,
    AlertType.ACCREGFAIL: 3,
    AlertType.ACCLOCKED: 2,
    AlertType.ACCCLOSED: 1,
    AlertType.ERROR: 1,
}
SOURCES = ["Equifax", "Experian", "TransUnion"]
HOST_ID = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    lead_id: uuid.UUID | None
    name: str
    email: str


def people(leads: list[tuple], rng: random.Random) -> list[Person]:
    """One monitored person per lead given (id, first, last, email), and as many (at least 10)
    who are nobody's lead."""
    linked = [
        Person(uuid.UUID(int=rng.getrandbits(128)), lead_id, f"{first} {last}".strip(), email)
        for lead_id, first, last, email in leads
    ]
    unlinked = [
        Person(uuid.UUID(int=rng.getrandbits(128)), None, "", "")
        for _ in range(max(10, len(leads)))
    ]
    return linked + unlinked


def nightly_batches(count: int, everyone: list[Person], rng: random.Random, now: datetime):
    """`count` notifications in nightly batches over the past weeks, oldest night first."""
    nights = max(1, min(28, count // 20))
    per_night = [count // nights + (1 if n < count % nights else 0) for n in range(nights)]
    for night, size in enumerate(per_night):
        sent_at = (now - timedelta(days=nights - night)).replace(
            hour=4, minute=0, second=0, microsecond=0
        )
        yield (
            sent_at,
            json.dumps([_item(rng.choice(everyone), rng, sent_at) for _ in range(size)]).encode(),
        )


def _item(person: Person, rng: random.Random, sent_at: datetime) -> dict:
    alert_type = rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
    item = {
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "type": alert_type,
        "user_id": str(person.user_id),
        "host_id": HOST_ID,
        "time": int((sent_at - timedelta(minutes=rng.randint(0, 600))).timestamp()),
    }
    if alert_type == AlertType.ACCALERT:
        reported = sent_at - timedelta(hours=rng.randint(1, 30))
        item |= {
            "alert_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "alert_source": rng.choice(SOURCES),
            "alert_date": reported.strftime(
                rng.choice(["%Y-%m-%dT%H:%M:%SZ", "%m/%d/%Y", "%Y-%m-%d"])
            ),
        }
    if alert_type in (AlertType.ACCREGFAIL, AlertType.ERROR):
        item |= {"error_code": "REG-104", "error_msg": "Unable to register user for credit data"}
    return item


# --- Seeding (`manage.py seed_demo`) -------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument(
        "--alerts",
        type=int,
        default=0,
        help="also this many CRS credit alerts, in nightly batches, about demo leads' people",
    )


def seed(command, *, alerts: int, seed: int, if_empty: bool, **_) -> None:
    """Nightly CRS batches through the intake, about people some of whom are demo leads."""
    if alerts < 0:
        raise CommandError("--alerts must be 0 or more.")
    if not alerts or (if_empty and Alert.objects.exists()):
        return
    _send(command, alerts, seed)


def _send(command, count: int, seed: int) -> None:
    rng = random.Random(seed)
    leads = list(
        Lead.objects.order_by("-date_created").values_list(
            "id", "first_name", "last_name", "email"
        )[:50]
    )
    everyone = people(leads, rng)
    bar = tqdm(total=count, unit="alert", desc="Demo alerts", file=command.stderr._out)
    with bar:
        for _, batch in nightly_batches(count, everyone, rng, timezone.now()):
            bar.update(len(services.receive_alerts(batch).answers))
    for person in everyone:  # staff would link these by hand in the admin
        CRSUser.objects.filter(pk=person.user_id).update(
            lead_id=person.lead_id, name=person.name, email=person.email
        )
    command.stdout.write(
        command.style.SUCCESS(
            f"Demo alerts: {count} CRS notifications about {len(everyone)} people."
        )
    )

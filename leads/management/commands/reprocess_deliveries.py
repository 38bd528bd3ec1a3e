"""`reprocess_deliveries`: process stored CRF deliveries again, in this process (idempotent)."""

import uuid
from argparse import ArgumentTypeError
from datetime import datetime, time
from functools import partial

from django.core.management.base import BaseCommand
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from leads.choices import DeliveryOutcome
from leads.intake import services
from leads.models import LeadDelivery


class Command(BaseCommand):
    help = (
        "Process stored lead deliveries again, in this process: all of them, or those chosen "
        "below. Rejected deliveries (not a lead) are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--lead", type=_lead_id, help="only this lead's deliveries (CRF id)")
        parser.add_argument("--failed", action="store_true", help="only failed deliveries")
        parser.add_argument(
            "--since", type=_since, help="only deliveries received on or after this ISO date/time"
        )

    def handle(self, *args, lead: uuid.UUID | None, failed: bool, since: datetime | None, **_):
        scope = _scope(lead, since)
        chosen = scope.filter(outcome=DeliveryOutcome.FAILED) if failed else scope
        bar = partial(tqdm, unit="lead", desc="Reprocessing", file=self.stderr._out)
        done = services.reprocess(chosen, now=True, progress=bar)
        style = self.style.ERROR if done.still_failed else self.style.SUCCESS
        self.stdout.write(
            style(
                f"Leads processed: {done.leads} ({done.deliveries} deliveries); "
                f"deliveries still failed: {done.still_failed}."
            )
        )


def _scope(lead: uuid.UUID | None, since: datetime | None) -> QuerySet:
    deliveries = LeadDelivery.objects.all()
    if lead:
        deliveries = deliveries.filter(lead_id=lead)
    if since:
        deliveries = deliveries.filter(received_at__gte=since)
    return deliveries


# ArgumentTypeError: argparse shows the message (a CommandError when run through call_command).
def _lead_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ArgumentTypeError(f"not a lead id (a UUID): {value!r}") from None


def _since(value: str) -> datetime:
    """An ISO date (midnight, local time) or date and time (local time unless it says)."""
    try:
        moment = parse_datetime(value)
        day = None if moment else parse_date(value)
    except ValueError:
        moment = day = None
    if day:
        moment = datetime.combine(day, time.min)
    if moment is None:
        raise ArgumentTypeError(f"not an ISO date such as 2025-01-31: {value!r}")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)

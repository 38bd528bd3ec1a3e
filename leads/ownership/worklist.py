"""An officer's day and a manager's team (docs/contract.md#17-ownership-and-speed-to-lead).

Every list is read from a partial index ordered as shown (lead_officer_untouched_idx,
lead_officer_next_action_idx, lead_untouched_idx), and every count stops at COUNT_CAP, so the
front page costs the same with a million leads.
"""

import statistics
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
)
from django.utils import timezone

from leads.choices import Status
from leads.models import OPEN, Lead

COUNT_CAP = 1000
SHOWN = 10  # rows per section; the count and the link give the rest
TEAM_DAYS = 30  # the team's speed to lead: leads created in the last 30 days


def target() -> timedelta:
    return timedelta(hours=settings.LEAD_FIRST_CONTACT_HOURS)


def capped_count(leads: QuerySet) -> int:
    """How many, up to COUNT_CAP + 1 (shown as "1000+"): never a count of a whole table."""
    return leads.order_by().values("pk")[: COUNT_CAP + 1].count()


def untouched(leads: QuerySet | None = None) -> QuerySet:
    """Open leads nobody has contacted yet."""
    return (leads if leads is not None else Lead.objects.all()).filter(OPEN, first_contact_at=None)


def overdue(leads: QuerySet | None = None, now: datetime | None = None) -> QuerySet:
    """Untouched for longer than LEAD_FIRST_CONTACT_HOURS since CRF created them."""
    return untouched(leads).filter(date_created__lt=(now or timezone.now()) - target())


def follow_ups_due(leads: QuerySet, now: datetime | None = None) -> QuerySet:
    """A next action planned for today or earlier."""
    return leads.filter(next_action_at__lt=end_of_day(now or timezone.now()))


def end_of_day(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return timezone.make_aware(datetime.combine(local.date() + timedelta(days=1), time.min))


@dataclass(frozen=True)
class Day:
    new: list[Lead]
    new_count: int
    overdue: list[Lead]
    overdue_count: int
    due: list[Lead]
    due_count: int


def officer_day(officer, now: datetime | None = None) -> Day:
    now = now or timezone.now()
    mine = Lead.objects.filter(assigned_officer=officer).select_related("matched_product")
    new = untouched(mine).order_by("-date_created")
    late = overdue(mine, now).order_by("date_created")
    due = follow_ups_due(mine, now).order_by("next_action_at")
    return Day(
        new=list(new[:SHOWN]),
        new_count=capped_count(new),
        overdue=list(late[:SHOWN]),
        overdue_count=capped_count(late),
        due=list(due[:SHOWN]),
        due_count=capped_count(due),
    )


@dataclass(frozen=True)
class OfficerNumbers:
    officer_id: int
    name: str
    open_leads: int
    contacted_within_target: float | None  # share of the period's leads, 0–1
    median_hours_to_contact: float | None
    funded_this_month: int


class _MedianHours(Aggregate):
    """PostgreSQL's median of an interval, in hours."""

    template = (
        "percentile_cont(0.5) WITHIN GROUP"
        " (ORDER BY EXTRACT(EPOCH FROM (%(expressions)s)) / 3600.0)"
    )
    output_field = FloatField()


TEAM_CACHE_SECONDS = 300


def cached_team() -> list[OfficerNumbers]:
    """The team's numbers, computed at most every TEAM_CACHE_SECONDS per cache: they grow with
    the officers' books (about 180 ms at a million leads), and a manager's front page does not
    need them to the second."""
    return cache.get_or_set("leads.worklist.team", team, TEAM_CACHE_SECONDS)


def team(now: datetime | None = None) -> list[OfficerNumbers]:
    """Per officer with leads: open leads; of the leads created in the last TEAM_DAYS, the share
    contacted within the target and the median hours to first contact; funded this month.
    Four GROUP BY queries, whatever the number of leads."""
    now = now or timezone.now()
    assigned = Lead.objects.exclude(assigned_officer=None)
    # COUNT(*), not COUNT(id): lead_officer_open_idx answers it alone (an index-only scan).
    open_by = dict(_per_officer(assigned.filter(OPEN), Count("*")))
    recent = assigned.filter(date_created__gte=now - timedelta(days=TEAM_DAYS))
    within = F("date_created") + target()
    shares = {
        officer: (fast, total)
        for officer, total, fast in recent.values_list("assigned_officer")
        .annotate(total=Count("*"), fast=Count("pk", filter=Q(first_contact_at__lte=within)))
        .values_list("assigned_officer", "total", "fast")
        .order_by()
    }
    medians = _median_hours(recent.exclude(first_contact_at=None))
    month = timezone.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    funded = dict(
        _per_officer(assigned.filter(status=Status.FUNDED, funded_date__gte=month), Count("*"))
    )
    ids = set(open_by) | set(shares) | set(funded)
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=ids)}
    rows = []
    for officer_id in sorted(ids, key=lambda pk: users[pk].get_username().lower()):
        fast, total = shares.get(officer_id, (0, 0))
        user = users[officer_id]
        rows.append(
            OfficerNumbers(
                officer_id=officer_id,
                name=user.get_full_name() or user.get_username(),
                open_leads=open_by.get(officer_id, 0),
                contacted_within_target=fast / total if total else None,
                median_hours_to_contact=medians.get(officer_id),
                funded_this_month=funded.get(officer_id, 0),
            )
        )
    return rows


def _per_officer(leads: QuerySet, aggregate) -> list[tuple[int, int]]:
    return list(
        leads.values("assigned_officer")
        .annotate(value=aggregate)
        .values_list("assigned_officer", "value")
        .order_by()
    )


def _median_hours(contacted: QuerySet) -> dict[int, float]:
    if connection.vendor == "postgresql":
        waited = ExpressionWrapper(
            F("first_contact_at") - F("date_created"), output_field=DurationField()
        )
        return dict(_per_officer(contacted, _MedianHours(waited)))
    # SQLite has no percentile: the waits of the period, in Python (development databases).
    waits: dict[int, list[float]] = {}
    for officer, created, contacted_at in contacted.values_list(
        "assigned_officer", "date_created", "first_contact_at"
    ):
        waits.setdefault(officer, []).append((contacted_at - created).total_seconds() / 3600)
    return {officer: statistics.median(values) for officer, values in waits.items()}


def unassigned(now: datetime | None = None) -> tuple[list[Lead], int]:
    """Open leads nobody owns, oldest first, and how many (capped)."""
    leads = Lead.objects.filter(OPEN, assigned_officer=None).order_by("date_created")
    return list(leads[:SHOWN]), capped_count(leads)

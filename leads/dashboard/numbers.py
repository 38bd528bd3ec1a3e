"""The dashboard's numbers: aggregate queries over the leads created in a date range.

Each query is one GROUP BY, or one conditional aggregate, over the leads created in a date range,
optionally within one matched product: PostgreSQL reads the range from lead_created_idx, or from
lead_product_created_idx when a product is chosen. Python then loops over the groups (statuses,
weeks, products, partners, officers), never over leads, so a page costs the same with a million
of them. Medians (speed to lead) are one window query per chart that returns each group's middle
rows only: the same SQL on PostgreSQL and SQLite.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import (
    Count,
    DurationField,
    Expression,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.functions import RowNumber, TruncWeek
from django.utils import timezone

from leads import choices
from leads.choices import Status
from leads.models import Lead, Partner, Product

WEEKS = 12
# Money lent: a funded block on a lead that is not Funded (CRF's own sample has one) is not.
FUNDED = Q(status=Status.FUNDED)
TOP = 10  # products and partners shown by name; the rest are summed as "Other"
FRAUD_BANDS = [(band.label, band.condition) for band in choices.FRAUD_BANDS] + [
    ("not scored", Q(fraud_score=None)),
]
# The funnel's stages for conversion: a lead has reached a stage when its status now is that
# stage or a later one on the way to funding (a lead disqualified after a call no longer counts).
STAGES = {
    Status.CONTACTED.value: [Status.CONTACTED, Status.QUALIFIED, Status.FUNDED],
    Status.QUALIFIED.value: [Status.QUALIFIED, Status.FUNDED],
    Status.FUNDED.value: [Status.FUNDED],
}


@dataclass(frozen=True)
class WeekCounts:
    start: date  # a Monday
    by_status: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class Weekly:
    statuses: list[str]  # the CRF statuses in their order, then unknown ones seen in these weeks
    weeks: list[WeekCounts]  # oldest first, every week present, empty ones too


@dataclass(frozen=True)
class ProductAmounts:
    label: str
    leads: int
    requested: Decimal
    funded: Decimal


@dataclass(frozen=True)
class Group:
    label: str
    leads: int


@dataclass(frozen=True)
class Speed:
    """Speed to lead of a group of leads (an officer's, a week's)."""

    label: str
    key: object  # what the group's link filters by: an officer's pk, a week's Monday; None: none
    leads: int
    contacted: int  # with a first contact
    known: int  # contacted, or older than the hours allowed: whether it was in time is known
    in_time: int  # first contact within settings.LEAD_FIRST_CONTACT_HOURS of its creation
    median_hours: float | None  # from creation to first contact, over the contacted ones

    @property
    def share_in_time(self) -> float | None:
        return self.in_time / self.known if self.known else None


@dataclass(frozen=True)
class Conversion:
    """How far the leads of one product or lead source went: leads per stage reached."""

    label: str
    key: int | None  # the product's or source's pk, for its links; None for "none" and "Other"
    leads: int
    reached: dict[str, int]  # by stage (STAGES)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())  # Monday, as TruncWeek counts


def first_week(date_to: date) -> date:
    """The Monday the weekly chart starts on: it shows WEEKS weeks ending with date_to's week."""
    return week_start(date_to) - timedelta(weeks=WEEKS - 1)


def leads_created(date_from: date, date_to: date, product_id: int | None = None) -> QuerySet:
    """Leads created from the start of date_from to the end of date_to, in the current time zone."""
    leads = Lead.objects.filter(
        date_created__gte=start_of(date_from), date_created__lt=start_of(date_to + timedelta(1))
    )
    if product_id is not None:
        leads = leads.filter(matched_product_id=product_id)
    return leads.order_by()  # Meta.ordering has no place in an aggregate


def funnel(date_from: date, date_to: date, product_id: int | None = None) -> list[tuple[str, int]]:
    """(status, leads) for every CRF status in funnel order, then unknown statuses as sent."""
    leads = leads_created(date_from, date_to, product_id)
    counts = dict(leads.values_list("status").annotate(n=Count("*")))
    known = [(status.value, counts.pop(status.value, 0)) for status in Status]
    return known + sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def weekly(date_to: date, product_id: int | None = None) -> Weekly:
    """Leads per week and status, for the WEEKS weeks ending with the week of date_to."""
    starts = [first_week(date_to) + timedelta(weeks=n) for n in range(WEEKS)]
    rows = (
        leads_created(starts[0], date_to, product_id)
        .annotate(week=TruncWeek("date_created"))
        .values_list("week", "status")
        .annotate(n=Count("*"))
    )
    counts: dict[date, dict[str, int]] = {start: {} for start in starts}
    for week, status, leads in rows:
        counts[timezone.localtime(week).date()][status] = leads
    seen = {status for by_status in counts.values() for status in by_status}
    known = [status.value for status in Status]
    statuses = known + sorted(seen - set(known))
    return Weekly(statuses, [WeekCounts(start, counts[start]) for start in starts])


def amounts_by_product(
    date_from: date, date_to: date, product_id: int | None = None
) -> list[ProductAmounts]:
    """Requested and funded totals per matched product, largest request first: the TOP products
    (leads without one count as "No matched product"), then the rest summed as "Other"."""
    rows = (
        leads_created(date_from, date_to, product_id)
        .values_list("matched_product_id")
        .annotate(
            n=Count("*"),
            requested=Sum("requested_amount"),
            funded=Sum("funded_amount", filter=FUNDED),
        )
    )
    rows = sorted(rows, key=lambda row: (-(row[2] or 0), _nulls_last(row[0])))
    top, rest = rows[:TOP], rows[TOP:]
    names = _names(Product, [row[0] for row in top])
    result = [
        ProductAmounts(names.get(pk, "No matched product"), leads, *_money(requested, funded))
        for pk, leads, requested, funded in top
    ]
    if rest:
        result.append(
            ProductAmounts(
                f"Other ({len(rest)} products)",
                sum(row[1] for row in rest),
                sum((row[2] or 0 for row in rest), Decimal(0)),
                sum((row[3] or 0 for row in rest), Decimal(0)),
            )
        )
    return result


def fraud_bands(
    date_from: date, date_to: date, product_id: int | None = None
) -> list[tuple[str, int]]:
    """(band, leads) for the CRF fraud-score bands in FRAUD_BANDS order: one pass over the range."""
    counts = leads_created(date_from, date_to, product_id).aggregate(
        **{f"band{n}": Count("pk", filter=band) for n, (_, band) in enumerate(FRAUD_BANDS)}
    )
    return [(label, counts[f"band{n}"]) for n, (label, _) in enumerate(FRAUD_BANDS)]


def service_partners(date_from: date, date_to: date, product_id: int | None = None) -> list[Group]:
    """Leads per service partner, most first: the TOP partners, then the rest as "Other"."""
    rows = (
        leads_created(date_from, date_to, product_id)
        .values_list("service_partner_id")
        .annotate(n=Count("*"))
    )
    rows = sorted(rows, key=lambda row: (-row[1], _nulls_last(row[0])))
    top, rest = rows[:TOP], rows[TOP:]
    names = _names(Partner, [pk for pk, _ in top])
    result = [Group(names.get(pk, "No service partner"), leads) for pk, leads in top]
    if rest:
        result.append(Group(f"Other ({len(rest)} partners)", sum(leads for _, leads in rest)))
    return result


def speed_by_officer(date_from: date, date_to: date, product_id: int | None = None) -> list[Speed]:
    """Speed to lead per assigned officer (the one a lead is assigned to now), by name, then the
    unassigned leads. One row per officer: as many as there are staff, never per lead."""
    speeds = _speed(leads_created(date_from, date_to, product_id), F("assigned_officer_id"))
    officers = get_user_model().objects.filter(pk__in=[pk for pk in speeds if pk is not None])
    names = {officer.pk: officer.get_full_name() or officer.get_username() for officer in officers}
    rows = [_speed_row(names.get(pk, "No officer"), pk, counts) for pk, counts in speeds.items()]
    return sorted(rows, key=lambda row: (row.key is None, row.label.casefold()))


def speed_by_week(date_to: date, product_id: int | None = None) -> list[Speed]:
    """Speed to lead per week of creation, for the weekly chart's WEEKS weeks, empty ones too."""
    starts = [first_week(date_to) + timedelta(weeks=n) for n in range(WEEKS)]
    week = TruncWeek("date_created")
    found = _speed(leads_created(starts[0], date_to, product_id), week)
    by_start = {timezone.localtime(key).date(): counts for key, counts in found.items()}
    return [
        _speed_row(f"Week of {start:%b} {start.day}", start, by_start.get(start, {}))
        for start in starts
    ]


def _speed(leads: QuerySet, group: Expression) -> dict[object, dict]:
    """Counts and the median wait per group, in two queries whatever the number of leads."""
    window = timedelta(hours=settings.LEAD_FIRST_CONTACT_HOURS)
    contacted = Q(first_contact_at__isnull=False)
    waited = leads.annotate(group=group).alias(wait=_wait())
    counts = waited.values_list("group").annotate(
        leads=Count("*"),
        contacted=Count("pk", filter=contacted),
        known=Count("pk", filter=contacted | Q(date_created__lte=timezone.now() - window)),
        in_time=Count("pk", filter=contacted & Q(wait__lte=window)),
    )
    medians = _median_waits(leads.filter(contacted), group)
    return {
        key: {"leads": n, "contacted": c, "known": k, "in_time": t, "median": medians.get(key)}
        for key, n, c, k, t in counts
    }


def _wait() -> ExpressionWrapper:
    wait = F("first_contact_at") - F("date_created")
    return ExpressionWrapper(wait, output_field=DurationField())


def _median_waits(contacted: QuerySet, group: Expression) -> dict[object, timedelta]:
    """The median wait per group, in one query: each group's middle row, or its two middle rows
    (ROW_NUMBER over the group by wait, filtered around half the group's size), averaged here.
    The database sorts the waits; only two rows a group come back."""
    ranked = (
        contacted.annotate(group=group, wait=_wait())
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("group")], order_by=[F("wait"), F("pk")]),
            size=Window(Count("*"), partition_by=[F("group")]),
        )
        # Integer division: the middle of an odd size, the two middles of an even one.
        .filter(rank__gte=(F("size") + 1) / 2, rank__lte=(F("size") + 2) / 2)
        .values_list("group", "wait")
    )
    middles: dict[object, list[timedelta]] = {}
    for key, wait in ranked:
        middles.setdefault(key, []).append(wait)
    return {key: sum(waits, timedelta()) / len(waits) for key, waits in middles.items()}


def _speed_row(label: str, key, counts: dict) -> Speed:
    median = counts.get("median")
    return Speed(
        label,
        key,
        counts.get("leads", 0),
        counts.get("contacted", 0),
        counts.get("known", 0),
        counts.get("in_time", 0),
        round(median.total_seconds() / 3600, 1) if median is not None else None,
    )


def conversion(
    by: str, date_from: date, date_to: date, product_id: int | None = None
) -> list[Conversion]:
    """Leads reaching each stage per matched product or lead source (`by`: "matched_product" or
    "lead_source"), most leads first: the TOP by name, the rest summed as "Other"."""
    model, none, plural = {
        "matched_product": (Product, "No matched product", "products"),
        "lead_source": (Partner, "No lead source", "sources"),
    }[by]
    rows = (
        leads_created(date_from, date_to, product_id)
        .values_list(f"{by}_id")
        .annotate(
            n=Count("*"),
            **{
                f"stage{i}": Count("pk", filter=Q(status__in=statuses))
                for i, statuses in enumerate(STAGES.values())
            },
        )
    )
    rows = sorted(rows, key=lambda row: (-row[1], _nulls_last(row[0])))
    top, rest = rows[:TOP], rows[TOP:]
    names = _names(model, [row[0] for row in top])
    result = [
        Conversion(names.get(pk, none), pk, leads, dict(zip(STAGES, reached, strict=True)))
        for pk, leads, *reached in top
    ]
    if rest:
        summed = [sum(row[2 + i] for row in rest) for i in range(len(STAGES))]
        result.append(
            Conversion(
                f"Other ({len(rest)} {plural})",
                None,
                sum(row[1] for row in rest),
                dict(zip(STAGES, summed, strict=True)),
            )
        )
    return result


def start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _money(*sums: Decimal | None) -> list[Decimal]:
    return [value or Decimal(0) for value in sums]  # SUM() of no amounts is NULL


def _nulls_last(pk: int | None) -> tuple:
    return (pk is None, pk or 0)


def _names(model, pks: list[int | None]) -> dict[int, str]:
    # Named after grouping, for the TOP groups only: joining first would join every lead.
    rows = model.objects.filter(pk__in=[pk for pk in pks if pk is not None]).only("name", "crf_key")
    return {row.pk: str(row) for row in rows}

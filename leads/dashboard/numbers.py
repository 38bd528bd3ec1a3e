"""The dashboard's numbers: aggregate queries over the leads created in a date range.

Each query is one GROUP BY, or one conditional aggregate, over the leads created in a date range,
optionally within one matched product: PostgreSQL reads the range from lead_created_idx, or from
lead_product_created_idx when a product is chosen. Python then loops over the groups (statuses,
weeks, products, partners), never over leads, so a page costs the same with a million of them.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncWeek
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


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())  # Monday, as TruncWeek counts


def first_week(date_to: date) -> date:
    """The Monday the weekly chart starts on: it shows WEEKS weeks ending with date_to's week."""
    return week_start(date_to) - timedelta(weeks=WEEKS - 1)


def leads_created(date_from: date, date_to: date, product_id: int | None = None) -> QuerySet:
    """Leads created from the start of date_from to the end of date_to, in the current time zone."""
    leads = Lead.objects.filter(
        date_created__gte=_start_of(date_from), date_created__lt=_start_of(date_to + timedelta(1))
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


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _money(*sums: Decimal | None) -> list[Decimal]:
    return [value or Decimal(0) for value in sums]  # SUM() of no amounts is NULL


def _nulls_last(pk: int | None) -> tuple:
    return (pk is None, pk or 0)


def _names(model, pks: list[int | None]) -> dict[int, str]:
    # Named after grouping, for the TOP groups only: joining first would join every lead.
    rows = model.objects.filter(pk__in=[pk for pk in pks if pk is not None]).only("name", "crf_key")
    return {row.pk: str(row) for row in rows}

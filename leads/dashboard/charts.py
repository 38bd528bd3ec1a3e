"""The dashboard's charts: its numbers (`numbers`) turned into rectangles, ticks and tables, so
that the templates under admin/leads/charts/ only print what they are given (inline SVG)."""

import math
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from leads import choices
from leads.choices import Status

from . import numbers
from .numbers import STAGES, Conversion, Group, ProductAmounts, Speed, Weekly

WIDTH = 640  # every chart's viewBox width; the page scales it to the column
STATUS_COLOURS = choices.STATUS_COLOURS  # the same colours as the lead list's badges
EXTRA_COLOURS = ["#a16207", "#db2777", "#0891b2"]  # statuses CRF adds after our lookups
FRAUD_COLOURS = [band.colour for band in choices.FRAUD_BANDS]  # "not scored" has its own
STATUS_CSS = {status.value: f"s-{status.value.lower()}" for status in Status}
EXTRA_CSS = [f"s-extra{n}" for n in range(len(EXTRA_COLOURS))]


def palette() -> list[tuple[str, str]]:
    """(CSS class, colour) of every coloured series, for the page to write as style rules."""
    return (
        [(STATUS_CSS[status], colour) for status, colour in STATUS_COLOURS.items()]
        + list(zip(EXTRA_CSS, EXTRA_COLOURS, strict=True))
        + [(f"f-{n}", colour) for n, colour in enumerate(FRAUD_COLOURS)]
    )


def status_css(status: str) -> str:
    """The colour class of a status, the same in every chart. Unknown statuses take one of a few
    extra colours by a hash of their name, so a status keeps its colour from page to page."""
    return STATUS_CSS.get(status) or EXTRA_CSS[zlib.crc32(status.encode()) % len(EXTRA_CSS)]


def nice_ticks(largest: float | Decimal, target: int = 4) -> list[int]:
    """0 and whole round steps (1, 2 or 5 × 10ⁿ) up to the first tick at or above `largest`."""
    largest = float(largest)
    if largest <= 0:
        return [0, 1]
    raw = largest / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1, int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)))
    return list(range(0, math.ceil(largest / step) * step + 1, step))


def scale(value: float | Decimal, top: float, length: float) -> float:
    """The length a value takes on an axis whose last tick, `top`, is `length` long."""
    return round(float(value) / top * length, 1) if top else 0.0


def count_text(value: int) -> str:
    return f"{value:,}"


def money_text(value: Decimal) -> str:
    return f"${value:,.2f}"


def compact_money(value: float | Decimal) -> str:
    """$950, $12.5k, $1.2M: for ticks and bar ends; the tables keep the cents."""
    number = float(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        scaled = round(number / size, 1)
        if abs(scaled) >= 1:
            return f"${scaled:g}{suffix}"
    return f"${number:,.0f}"


def short(label: str, length: int = 30) -> str:
    return label if len(label) <= length else label[: length - 1] + "…"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str  # colour class
    title: str  # the tooltip, exact
    text: str = ""  # the value written after a horizontal bar
    url: str = ""  # the lead list filtered to the bar's leads

    @property
    def end(self) -> float:
        return round(self.x + self.width + 4, 1)

    @property
    def middle(self) -> float:
        return round(self.y + self.height / 2, 1)


@dataclass(frozen=True)
class Tick:
    at: float  # x for a horizontal chart's value axis, y for a vertical one
    text: str


@dataclass(frozen=True)
class Row:
    """One label of a horizontal chart and its bars (one per series)."""

    label: str
    title: str  # the whole label, when `label` is shortened
    y: float  # the label's vertical middle
    bars: list[Bar]


@dataclass(frozen=True)
class Column:
    """One week of a stacked chart."""

    label: str
    x: float  # the column's horizontal middle
    segments: list[Bar]
    total: str
    total_y: float  # where the total is written, above the column


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]  # the first cell of each row is its header


@dataclass(frozen=True)
class Chart:
    key: str  # the HTML id
    title: str
    summary: str  # one sentence a screen reader says for the picture
    template: str
    height: float
    left: float  # the plot area
    top: float
    right: float
    bottom: float
    ticks: list[Tick]
    axis_label: str  # the value axis
    table: Table
    rows: list[Row] = field(default_factory=list)  # horizontal bars
    columns: list[Column] = field(default_factory=list)  # stacked columns
    category_label: str = ""  # the stacked chart's horizontal axis
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css, label)
    width: int = WIDTH

    @property
    def middle_x(self) -> float:
        return round((self.left + self.right) / 2, 1)

    @property
    def middle_y(self) -> float:
        return round((self.top + self.bottom) / 2, 1)

    @property
    def under(self) -> float:  # tick labels under a horizontal chart, week labels under columns
        return self.bottom + 16

    @property
    def axis_y(self) -> float:  # the title of the axis along the bottom
        return self.bottom + 34


# Horizontal bars: labels on the left, values written after each bar.
# 240 holds a 30-character label (see short()) at the charts' font size.
LABEL_WIDTH, VALUE_WIDTH, BAR_HEIGHT, BAR_GAP, ROW_GAP, AXIS_HEIGHT = 240, 80, 16, 2, 10, 40


def horizontal_bars(
    key: str,
    title: str,
    summary: str,
    rows: list[tuple[str, list[tuple[float, str, str, str]]]],
    *,
    axis_label: str,
    tick_text,
    table: Table,
    legend: list[tuple[str, str]] | None = None,
) -> Chart:
    """rows: (label, [(value, css, tooltip, text[, url]) per series]), drawn top to bottom."""
    series = max((len(bars) for _, bars in rows), default=1)
    row_height = series * BAR_HEIGHT + (series - 1) * BAR_GAP + ROW_GAP
    left, right, top = LABEL_WIDTH, WIDTH - VALUE_WIDTH, ROW_GAP / 2
    bottom = top + len(rows) * row_height
    ticks = nice_ticks(max((value for _, bars in rows for value, *_ in bars), default=0))
    plot = right - left
    drawn = []
    for n, (label, bars) in enumerate(rows):
        y = top + n * row_height + ROW_GAP / 2
        drawn.append(
            Row(
                short(label),
                label,
                y + (row_height - ROW_GAP) / 2,
                [
                    _hbar(left, y + i * (BAR_HEIGHT + BAR_GAP), ticks[-1], plot, *bar)
                    for i, bar in enumerate(bars)
                ],
            )
        )
    return Chart(
        key,
        title,
        summary,
        "admin/leads/charts/bars.html",
        bottom + AXIS_HEIGHT,
        left,
        top,
        right,
        bottom,
        [Tick(left + scale(t, ticks[-1], plot), tick_text(t)) for t in ticks],
        axis_label,
        table,
        rows=drawn,
        legend=legend or [],
    )


def _hbar(x, y, top_tick, plot, value, css, title, text, url="") -> Bar:
    width = scale(value, top_tick, plot)
    if value and width < 1:
        width = 1.0  # a small value still shows
    return Bar(x, y, width, BAR_HEIGHT, css, title, text, url)


# Stacked columns: ticks on the left, a label under each column, its total above it.
STACK_HEIGHT, STACK_LEFT, STACK_RIGHT, STACK_TOP, STACK_BOTTOM = 300, 64, 8, 20, 44


def stacked_columns(
    key: str,
    title: str,
    summary: str,
    columns: list[tuple[str, list[tuple[int, str, str]]]],
    *,
    axis_label: str,
    category_label: str,
    table: Table,
    legend: list[tuple[str, str]],
) -> Chart:
    """columns: (label, [(value, css, name) bottom to top]), drawn left to right."""
    left, right = STACK_LEFT, WIDTH - STACK_RIGHT
    top, bottom = STACK_TOP, STACK_HEIGHT - STACK_BOTTOM
    totals = [sum(value for value, *_ in parts) for _, parts in columns]
    ticks = nice_ticks(max(totals, default=0))
    plot, pitch = bottom - top, (right - left) / max(len(columns), 1)
    width = round(pitch * 0.7, 1)
    drawn = []
    for n, ((label, parts), total) in enumerate(zip(columns, totals, strict=True)):
        x = round(left + n * pitch + (pitch - width) / 2, 1)
        segments, below = [], 0
        for value, css, name in parts:
            if value:
                # From the running sum, so that rounding leaves no gap between segments.
                upper = bottom - scale(below + value, ticks[-1], plot)
                lower = bottom - scale(below, ticks[-1], plot)
                segments.append(
                    Bar(
                        x,
                        upper,
                        width,
                        round(lower - upper, 1),
                        css,
                        f"{label}: {name} {count_text(value)}",
                    )
                )
                below += value
        total_y = bottom - scale(total, ticks[-1], plot) - 5
        drawn.append(Column(label, round(x + width / 2, 1), segments, count_text(total), total_y))
    return Chart(
        key,
        title,
        summary,
        "admin/leads/charts/stacked_bars.html",
        STACK_HEIGHT,
        left,
        top,
        right,
        bottom,
        [Tick(bottom - scale(t, ticks[-1], plot), count_text(t)) for t in ticks],
        axis_label,
        table,
        columns=drawn,
        category_label=category_label,
        legend=legend,
    )


# --- The dashboard's charts ------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The leads the dashboard shows, as the lead list filters them: a bar links to its leads
    with the list's own filter parameters (docs/contract.md#12-the-fair-lending-firewall: the
    list takes no other lookup)."""

    date_from: date
    date_to: date
    product_id: int | None = None

    def url(self, *pairs: tuple[str, object], date_from=None, date_to=None) -> str:
        start, end = date_from or self.date_from, date_to or self.date_to
        params = [
            ("date_created__gte", numbers.start_of(start).isoformat()),
            ("date_created__lt", numbers.start_of(end + timedelta(days=1)).isoformat()),
        ]
        if self.product_id is not None:
            params.append(("matched_product__id__exact", self.product_id))
        params += [pair for pair in pairs if pair not in params]
        return reverse("admin:leads_lead_changelist") + "?" + urlencode(params)


def charts(date_from: date, date_to: date, product_id: int | None = None) -> list[Chart]:
    """Every chart of the dashboard, for leads created in the range (and matched to the product)."""
    scope = Scope(date_from, date_to, product_id)
    return [
        funnel_chart(numbers.funnel(date_from, date_to, product_id), scope),
        weekly_chart(numbers.weekly(date_to, product_id)),
        amounts_chart(numbers.amounts_by_product(date_from, date_to, product_id)),
        fraud_chart(numbers.fraud_bands(date_from, date_to, product_id)),
        partners_chart(numbers.service_partners(date_from, date_to, product_id)),
        speed_by_officer_chart(numbers.speed_by_officer(date_from, date_to, product_id), scope),
        speed_by_week_chart(numbers.speed_by_week(date_to, product_id), scope),
        conversion_chart(
            numbers.conversion("matched_product", date_from, date_to, product_id),
            scope,
            by="matched_product",
        ),
        conversion_chart(
            numbers.conversion("lead_source", date_from, date_to, product_id),
            scope,
            by="lead_source",
        ),
    ]


def funnel_chart(counts: list[tuple[str, int]], scope: Scope | None = None) -> Chart:
    total = sum(leads for _, leads in counts)
    rows = [
        (
            status,
            [
                (
                    leads,
                    status_css(status),
                    f"{status}: {count_text(leads)}",
                    count_text(leads),
                    scope.url(("status__exact", status)) if scope else "",
                )
            ],
        )
        for status, leads in counts
    ]
    table = Table(
        ["Status", "Leads", "Share"],
        [[status, count_text(leads), _share(leads, total)] for status, leads in counts]
        + [["Total", count_text(total), _share(total, total)]],
    )
    return horizontal_bars(
        "funnel",
        "Funnel: leads by current status",
        _listing("Leads by current status", counts),
        rows,
        axis_label="Leads",
        tick_text=count_text,
        table=table,
    )


def weekly_chart(data: Weekly) -> Chart:
    columns = [
        (
            f"{week.start:%b} {week.start.day}",
            [
                (week.by_status.get(status, 0), status_css(status), status)
                for status in data.statuses
            ],
        )
        for week in data.weeks
    ]
    table = Table(
        ["Week starting"] + data.statuses + ["Total"],
        [
            [f"{week.start:%Y-%m-%d}"]
            + [count_text(week.by_status.get(status, 0)) for status in data.statuses]
            + [count_text(week.total)]
            for week in data.weeks
        ],
    )
    first, last = data.weeks[0].start, data.weeks[-1].start
    total = sum(week.total for week in data.weeks)
    return stacked_columns(
        "weekly",
        f"Leads per week by status, {len(data.weeks)} weeks",
        f"Leads created per week from the week of {first:%Y-%m-%d} to the week of "
        f"{last:%Y-%m-%d}, stacked by status: {count_text(total)} in all.",
        columns,
        axis_label="Leads",
        category_label="Week starting (Monday)",
        table=table,
        legend=[(status_css(status), status) for status in data.statuses],
    )


def amounts_chart(amounts: list[ProductAmounts]) -> Chart:
    rows = [
        (
            row.label,
            [
                (
                    row.requested,
                    "s-requested",
                    f"{row.label}: requested {money_text(row.requested)}",
                    compact_money(row.requested),
                ),
                (
                    row.funded,
                    "s-funded",
                    f"{row.label}: funded {money_text(row.funded)}",
                    compact_money(row.funded),
                ),
            ],
        )
        for row in amounts
    ]
    table = Table(
        ["Matched product", "Leads", "Requested", "Funded"],
        [
            [row.label, count_text(row.leads), money_text(row.requested), money_text(row.funded)]
            for row in amounts
        ],
    )
    summary = "; ".join(
        f"{row.label}: requested {compact_money(row.requested)}, funded {compact_money(row.funded)}"
        for row in amounts
    )
    return horizontal_bars(
        "amounts",
        "Requested and funded amounts by matched product",
        f"Requested and funded amounts by matched product. {summary or 'No leads.'}",
        rows,
        axis_label="US dollars",
        tick_text=compact_money,
        table=table,
        legend=[("s-requested", "Requested"), ("s-funded", "Funded")],
    )


def fraud_chart(bands: list[tuple[str, int]]) -> Chart:
    rows = [
        (
            band,
            [
                (
                    leads,
                    f"f-{n}" if n < len(FRAUD_COLOURS) else "s-unscored",
                    f"{band}: {count_text(leads)}",
                    count_text(leads),
                )
            ],
        )
        for n, (band, leads) in enumerate(bands)
    ]
    table = Table(["Fraud score", "Leads"], [[band, count_text(leads)] for band, leads in bands])
    return horizontal_bars(
        "fraud",
        "Fraud-score distribution",
        _listing("Leads by fraud-score band", bands),
        rows,
        axis_label="Leads",
        tick_text=count_text,
        table=table,
    )


def partners_chart(groups: list[Group]) -> Chart:
    rows = [
        (
            group.label,
            [
                (
                    group.leads,
                    "s-single",
                    f"{group.label}: {count_text(group.leads)}",
                    count_text(group.leads),
                )
            ],
        )
        for group in groups
    ]
    table = Table(
        ["Service partner", "Leads"], [[group.label, count_text(group.leads)] for group in groups]
    )
    return horizontal_bars(
        "partners",
        "Leads by service partner",
        _listing("Leads by service partner", [(g.label, g.leads) for g in groups]),
        rows,
        axis_label="Leads",
        tick_text=count_text,
        table=table,
    )


# --- Speed to lead and conversion -------------------------------------------------------------


def hours_text(hours: float | None) -> str:
    return "–" if hours is None else f"{hours:g} h"


def share_text(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def speed_table(first: str, rows: list[Speed]) -> Table:
    hours = settings.LEAD_FIRST_CONTACT_HOURS
    return Table(
        [first, "Leads", "Contacted", "Median to first contact", f"Within {hours} h", "Share"],
        [
            [
                row.label,
                count_text(row.leads),
                count_text(row.contacted),
                hours_text(row.median_hours),
                count_text(row.in_time),
                share_text(row.share_in_time),
            ]
            for row in rows
        ],
    )


def speed_chart(key: str, title: str, rows: list[Speed], links, table: Table) -> Chart:
    """A bar per group: the median hours to first contact; after it, that and the share
    contacted within LEAD_FIRST_CONTACT_HOURS (of the leads where that is known yet)."""
    hours = settings.LEAD_FIRST_CONTACT_HOURS
    drawn = [
        (
            row.label,
            [
                (
                    row.median_hours or 0,
                    "s-single",
                    f"{row.label}: median {hours_text(row.median_hours)} to first contact, "
                    f"{share_text(row.share_in_time)} contacted within {hours} h "
                    f"({count_text(row.in_time)} of {count_text(row.known)})",
                    f"{hours_text(row.median_hours)} · {share_text(row.share_in_time)}",
                    links(row),
                )
            ],
        )
        for row in rows
    ]
    summary = "; ".join(
        f"{row.label}: median {hours_text(row.median_hours)}, "
        f"{share_text(row.share_in_time)} within {hours} h"
        for row in rows
        if row.leads
    )
    return horizontal_bars(
        key,
        title,
        f"{title}: median hours from creation to first contact. {summary or 'No leads.'}",
        drawn,
        axis_label=f"Median hours to first contact (after each bar: the share within {hours} h)",
        tick_text=lambda tick: f"{tick} h",
        table=table,
    )


def speed_by_officer_chart(rows: list[Speed], scope: Scope) -> Chart:
    return speed_chart(
        "speed-officer",
        "Speed to lead by assigned officer",
        rows,
        # The lead list's "Assigned officer" filter (leads.admin.ownership.OfficerFilter).
        lambda row: scope.url(("officer", row.key)) if row.key else "",
        speed_table("Officer", rows),
    )


def speed_by_week_chart(rows: list[Speed], scope: Scope) -> Chart:
    def week(row: Speed) -> str:
        end = min(row.key + timedelta(days=6), scope.date_to)
        return scope.url(date_from=row.key, date_to=end)

    return speed_chart(
        "speed-week",
        f"Speed to lead by week created, {len(rows)} weeks",
        rows,
        week,
        speed_table("Week", rows),
    )


CONVERSION_BY = {
    # by: (title, the table's first column, the lead list's parameter)
    "matched_product": ("matched product", "Matched product", "matched_product__id__exact"),
    "lead_source": ("lead source", "Lead source", "lead_source__id__exact"),
}


def conversion_chart(rows: list[Conversion], scope: Scope, *, by: str) -> Chart:
    """A row per product (or source), a bar per stage: the share of its leads at that stage or
    past it. Each bar links to those leads (every status of the stage, in the list's status
    filter); "No …" and "Other" rows are not links."""
    what, column, parameter = CONVERSION_BY[by]

    def bar(row: Conversion, stage: str) -> tuple:
        reached, share = row.reached[stage], _ratio(row.reached[stage], row.leads)
        statuses = [("status__exact", status.value) for status in STAGES[stage]]
        url = scope.url((parameter, row.key), *statuses) if row.key is not None else ""
        tip = f"{row.label}: {count_text(reached)} of {count_text(row.leads)} reached {stage}"
        return (
            share * 100,
            status_css(stage),
            f"{tip} ({share_text(share)})",
            share_text(share),
            url,
        )

    drawn = [(row.label, [bar(row, stage) for stage in STAGES]) for row in rows]
    table = Table(
        [column, "Leads", *STAGES],
        [
            [row.label, count_text(row.leads)] + [_reached_text(row, stage) for stage in STAGES]
            for row in rows
        ],
    )
    summary = "; ".join(
        f"{row.label}: "
        + ", ".join(f"{share_text(_ratio(row.reached[s], row.leads))} {s}" for s in STAGES)
        for row in rows
    )
    title = f"Conversion by {what}"
    return horizontal_bars(
        f"conversion-{by.replace('_', '-')}",
        title,
        f"{title}: the share of leads at or past Contacted, Qualified and Funded. "
        f"{summary or 'No leads.'}",
        drawn,
        axis_label="Share of the leads",
        tick_text=lambda tick: f"{tick}%",
        table=table,
        legend=[(status_css(stage), f"Reached {stage}") for stage in STAGES],
    )


def _reached_text(row: Conversion, stage: str) -> str:
    reached = row.reached[stage]
    return f"{count_text(reached)} ({share_text(_ratio(reached, row.leads))})"


def _ratio(part: int, total: int) -> float:
    return part / total if total else 0.0


def _share(part: int, total: int) -> str:
    return f"{part / total:.0%}" if total else "–"


def _listing(what: str, counts: list[tuple[str, int]]) -> str:
    if not counts:
        return f"{what}: no leads."
    return f"{what}: " + ", ".join(f"{label} {count_text(n)}" for label, n in counts) + "."

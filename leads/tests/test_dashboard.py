"""The leads dashboard: its numbers (leads.dashboard) and its admin page, on leads made by the
real intake (`services.receive_lead`, then `services.process_lead`)."""

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from leads.dashboard import charts, numbers
from leads.dashboard.numbers import Conversion, Group, ProductAmounts, Speed
from leads.intake import services
from leads.models import Lead, Partner, Product
from leads.ownership import services as ownership

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin-dashboard")
JUNE = (date(2024, 6, 1), date(2024, 6, 30))
IN_JUNE = "2024-06-10T12:00:00+00:00"
KNOWN = ["Matched", "Reviewed", "Contacted", "Qualified", "Funded", "Disqualified", "Withdrawn"]
CHARTS = [
    "funnel",
    "weekly",
    "amounts",
    "fraud",
    "partners",
    "speed-officer",
    "speed-week",
    "conversion-matched-product",
    "conversion-lead-source",
]
# Session, user, product choices, funnel, weekly, amounts + product names, fraud bands,
# partners + partner names, speed by officer (counts, medians, names), speed by week (counts,
# medians), conversion by product + names, by lead source + names: whatever the number of leads.
PAGE_QUERIES = 19
UNSET = object()


@pytest.fixture
def add_lead(sample_lead):
    """Receive and process a variation of the sample lead, created in June 2024; returns its id."""

    def add(*, created: str | None = IN_JUNE, funded_amount=UNSET, **changes) -> uuid.UUID:
        lead = {**sample_lead, "id": str(uuid.uuid4()), "dateCreated": created, **changes}
        if funded_amount is not UNSET:
            lead["funded"] = {**sample_lead["funded"], "fundedAmount": funded_amount}
        lead_id = services.receive_lead(json.dumps(lead).encode()).delivery.lead_id
        services.process_lead(lead_id)
        return lead_id

    return add


def product(name: str) -> dict:
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"product/{name}")), "name": name}


def partner(name: str) -> dict:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"partner/{name}")),
        "name": name,
        "route": name.lower().replace(" ", "-"),
    }


def product_pk(name: str) -> int:
    return Product.objects.get(name=name).pk


def table_row(*cells: str) -> str:
    """A row of a chart's fallback table, as the page writes it."""
    head, *rest = cells
    return f'<tr><th scope="row">{head}</th>' + "".join(f"<td>{c}</td>" for c in rest) + "</tr>"


def chart_html(response, key: str) -> str:
    match = re.search(
        rf'<section class="module dash-chart" id="chart-{key}">.*?</section>', response.text, re.S
    )
    assert match, f"no {key} chart on the page"
    return match.group(0)


# --- Funnel ----------------------------------------------------------------------------------


def test_the_funnel_counts_leads_per_status_in_crf_order_then_unknown_statuses_as_sent(add_lead):
    for status in ["Funded", "Matched", "OnHold", "Withdrawn", "Matched", "Qualified"]:
        add_lead(status=status)

    assert numbers.funnel(*JUNE) == [
        ("Matched", 2),
        ("Reviewed", 0),
        ("Contacted", 0),
        ("Qualified", 1),
        ("Funded", 1),
        ("Disqualified", 0),
        ("Withdrawn", 1),
        ("OnHold", 1),
    ]


def test_the_range_holds_both_of_its_days_whole_and_nothing_around_them(add_lead):
    for created in [
        "2024-05-31T23:59:59+00:00",
        "2024-06-01T00:00:00+00:00",
        "2024-06-30T23:59:59+00:00",
        "2024-07-01T00:00:00+00:00",
        None,
    ]:
        add_lead(created=created)

    assert sum(leads for _, leads in numbers.funnel(*JUNE)) == 2


def test_the_range_is_read_in_the_sites_time_zone(add_lead, settings):
    settings.TIME_ZONE = "America/Chicago"  # UTC-5 in June
    add_lead(created="2024-06-01T03:00:00+00:00")  # 31 May, 22:00 in Chicago
    add_lead(created="2024-07-01T03:00:00+00:00")  # 30 June, 22:00 in Chicago

    assert dict(numbers.funnel(*JUNE))["Matched"] == 1
    assert numbers.weekly(date(2024, 6, 30)).weeks[-1].start == date(2024, 6, 24)
    assert numbers.weekly(date(2024, 6, 30)).weeks[-1].total == 1  # Sunday night in Chicago


# --- Leads per week --------------------------------------------------------------------------


def test_weekly_counts_cover_twelve_weeks_ending_with_the_week_of_the_range_end(add_lead):
    add_lead(created="2024-04-07T23:59:00+00:00")  # the Sunday before the first week
    add_lead(created="2024-04-08T00:00:00+00:00")  # the first week's Monday
    add_lead(created="2024-05-15T09:00:00+00:00", status="Reviewed")
    add_lead(created="2024-05-17T09:00:00+00:00", status="OnHold")
    add_lead(created="2024-06-24T08:00:00+00:00", status="Funded")
    add_lead(created="2024-06-30T23:00:00+00:00")  # the range's last day, a Sunday
    add_lead(created="2024-07-01T00:00:00+00:00")  # after the range

    weekly = numbers.weekly(date(2024, 6, 30))

    assert [week.start for week in weekly.weeks] == [
        date(2024, 4, 8) + timedelta(weeks=n) for n in range(12)
    ]
    assert weekly.statuses == KNOWN + ["OnHold"]
    by_week = {week.start: week.by_status for week in weekly.weeks}
    assert by_week[date(2024, 4, 8)] == {"Matched": 1}
    assert by_week[date(2024, 5, 13)] == {"Reviewed": 1, "OnHold": 1}
    assert by_week[date(2024, 6, 24)] == {"Funded": 1, "Matched": 1}
    assert sum(week.total for week in weekly.weeks) == 5


def test_weekly_counts_stop_at_the_range_end_within_its_week(add_lead):
    add_lead(created="2024-06-25T10:00:00+00:00")
    add_lead(created="2024-06-27T10:00:00+00:00")

    weekly = numbers.weekly(date(2024, 6, 26))

    assert weekly.weeks[-1].start == date(2024, 6, 24)
    assert weekly.weeks[-1].total == 1


# --- Amounts by product ----------------------------------------------------------------------


def test_amounts_sum_requested_and_funded_per_product_largest_request_first(add_lead):
    add_lead(
        matchedProduct=product("Equipment Loan"),
        requestedAmount=50000,
        funded_amount=40000,
        status="Funded",
    )
    add_lead(matchedProduct=product("Equipment Loan"), requestedAmount=20000.5, funded_amount=None)
    add_lead(
        matchedProduct=product("Microloan"),
        requestedAmount=5000,
        funded_amount=5000,
        status="Funded",
    )
    add_lead(matchedProduct=None, requestedAmount=80000, funded_amount=None)
    add_lead(matchedProduct=product("Microloan"), requestedAmount=None, funded_amount=None)

    assert numbers.amounts_by_product(*JUNE) == [
        ProductAmounts("No matched product", 1, Decimal("80000"), Decimal("0")),
        ProductAmounts("Equipment Loan", 2, Decimal("70000.50"), Decimal("40000")),
        ProductAmounts("Microloan", 2, Decimal("5000"), Decimal("5000")),
    ]


def test_amounts_name_the_ten_largest_products_and_sum_the_rest_as_other(add_lead):
    for n in range(1, 13):
        add_lead(
            matchedProduct=product(f"Product {n}"),
            requestedAmount=1000 * n,
            funded_amount=n,
            status="Funded",
        )

    amounts = numbers.amounts_by_product(*JUNE)

    assert [row.label for row in amounts] == [f"Product {n}" for n in range(12, 2, -1)] + [
        "Other (2 products)"
    ]
    assert amounts[-1] == ProductAmounts("Other (2 products)", 2, Decimal(3000), Decimal(3))


def test_only_funded_leads_count_as_money_lent(add_lead):
    add_lead(
        matchedProduct=product("Microloan"),
        requestedAmount=5000,
        funded_amount=5000,
        status="Funded",
    )
    add_lead(
        matchedProduct=product("Microloan"), requestedAmount=7000, funded_amount=7000
    )  # Matched

    assert numbers.amounts_by_product(*JUNE) == [
        ProductAmounts("Microloan", 2, Decimal("12000"), Decimal("5000"))
    ]


# --- Fraud scores ----------------------------------------------------------------------------


def test_fraud_bands_put_each_boundary_in_the_upper_band_and_count_the_unscored(add_lead):
    for score in [0, 0.0001, 0.4999, 0.5, 0.8499, 0.85, 1, None]:
        add_lead(fraudScore=score)

    assert numbers.fraud_bands(*JUNE) == [
        ("0", 1),
        (">0–0.5", 2),
        ("0.5–0.85", 2),
        ("≥0.85 (withheld from matching)", 2),
        ("not scored", 1),
    ]


# --- Service partners ------------------------------------------------------------------------


def test_partners_are_counted_most_leads_first_with_leads_that_have_none(add_lead):
    for name in [
        "Main Street Partners",
        "Main Street Partners",
        "Bay SBDC",
        None,
        None,
        "Main Street Partners",
    ]:
        add_lead(servicePartner=partner(name) if name else None)

    assert numbers.service_partners(*JUNE) == [
        Group("Main Street Partners", 3),
        Group("No service partner", 2),
        Group("Bay SBDC", 1),
    ]


def test_partners_name_the_ten_busiest_and_count_the_rest_as_other(add_lead):
    for n in range(1, 13):
        for _ in range(1 if n <= 2 else 2):
            add_lead(servicePartner=partner(f"Partner {n:02}"))

    groups = numbers.service_partners(*JUNE)

    assert [group.label for group in groups] == [f"Partner {n:02}" for n in range(3, 13)] + [
        "Other (2 partners)"
    ]
    assert groups[-1].leads == 2


# --- The product filter ----------------------------------------------------------------------


def test_the_product_filter_narrows_every_chart_to_that_product(add_lead):
    add_lead(
        matchedProduct=product("Microloan"),
        status="Funded",
        fraudScore=0.9,
        servicePartner=partner("Bay SBDC"),
        requestedAmount=5000,
        funded_amount=4000,
    )
    add_lead(matchedProduct=product("Equipment Loan"), status="Matched", fraudScore=0.1)
    microloan = product_pk("Microloan")

    assert [(s, n) for s, n in numbers.funnel(*JUNE, microloan) if n] == [("Funded", 1)]
    assert sum(week.total for week in numbers.weekly(JUNE[1], microloan).weeks) == 1
    assert numbers.amounts_by_product(*JUNE, microloan) == [
        ProductAmounts("Microloan", 1, Decimal(5000), Decimal(4000))
    ]
    assert dict(numbers.fraud_bands(*JUNE, microloan))["≥0.85 (withheld from matching)"] == 1
    assert numbers.service_partners(*JUNE, microloan) == [Group("Bay SBDC", 1)]


# --- Geometry --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("largest", "ticks"),
    [
        (0, [0, 1]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (100, [0, 50, 100]),
        (Decimal("1234567.89"), [0, 500_000, 1_000_000, 1_500_000]),
    ],
)
def test_axis_ticks_are_whole_round_steps_from_zero_past_the_largest_value(largest, ticks):
    assert charts.nice_ticks(largest) == ticks


def test_the_longest_bar_fits_the_plot_and_an_empty_one_has_no_width():
    chart = charts.funnel_chart([("Matched", 7), ("Reviewed", 0), ("Contacted", 1)])
    plot = chart.right - chart.left
    widths = [row.bars[0].width for row in chart.rows]

    assert widths == [plot * 7 / 8, 0, plot / 8]  # the axis ends on its last tick, 8
    assert [tick.text for tick in chart.ticks] == ["0", "2", "4", "6", "8"]


def test_money_is_written_short_on_the_picture_and_to_the_cent_in_the_table():
    assert [charts.compact_money(v) for v in [950, 12_500, 999_999, 1_500_000]] == [
        "$950",
        "$12.5k",
        "$1M",
        "$1.5M",
    ]
    assert charts.money_text(Decimal("70000.5")) == "$70,000.50"


def test_a_status_has_the_same_colour_in_every_chart():
    funnel = charts.funnel_chart([(s, 1) for s in KNOWN + ["OnHold"]])
    weekly = charts.weekly_chart(
        numbers.Weekly(
            KNOWN + ["OnHold"],
            [numbers.WeekCounts(date(2024, 6, 24), {s: 1 for s in KNOWN + ["OnHold"]})],
        )
    )

    funnel_colours = [row.bars[0].css for row in funnel.rows]
    assert funnel_colours == [bar.css for bar in weekly.columns[0].segments]
    assert funnel_colours == [css for css, _ in weekly.legend]
    assert len(set(funnel_colours[:7])) == 7
    assert funnel_colours[-1] in charts.EXTRA_CSS


def test_the_page_styles_each_status_with_its_colour(admin_client):
    response = admin_client.get(DASHBOARD)

    for status, colour in charts.STATUS_COLOURS.items():
        assert f".s-{status.lower()} {{ fill: {colour}; background: {colour}; }}" in response.text


# --- The page --------------------------------------------------------------------------------


def test_the_page_draws_every_chart_with_its_numbers_in_a_table(admin_client, add_lead):
    add_lead(
        status="Funded",
        matchedProduct=product("Equipment Loan"),
        requestedAmount=50000,
        funded_amount=40000,
        fraudScore=0.5,
        servicePartner=partner("Bay SBDC"),
    )
    add_lead(
        status="Funded",
        matchedProduct=product("Equipment Loan"),
        requestedAmount=20000.5,
        funded_amount=None,
        fraudScore=None,
        servicePartner=partner("Bay SBDC"),
    )
    add_lead(status="Matched", created="2024-06-26T10:00:00+00:00")

    response = admin_client.get(DASHBOARD, {"date_from": "2024-06-01", "date_to": "2024-06-30"})

    assert response.status_code == 200
    assert response.text.count('class="module dash-chart"') == len(CHARTS)
    for key in CHARTS:
        html = chart_html(response, key)
        assert '<svg viewBox="0 0 640 ' in html and 'role="img" aria-label="' in html
        assert "<title>" in html and "<details" in html
    assert table_row("Funded", "2", "67%") in chart_html(response, "funnel")
    assert table_row("Total", "3", "100%") in chart_html(response, "funnel")
    assert table_row("2024-06-24", "1", *["0"] * 6, "1") in chart_html(response, "weekly")
    assert table_row("Equipment Loan", "2", "$70,000.50", "$40,000.00") in chart_html(
        response, "amounts"
    )
    assert table_row("0.5–0.85", "1") in chart_html(response, "fraud")
    assert table_row("not scored", "1") in chart_html(response, "fraud")
    assert table_row("Bay SBDC", "2") in chart_html(response, "partners")


def test_the_page_shows_the_last_twelve_weeks_by_default(admin_client, add_lead):
    now = timezone.now()
    add_lead(created=now.isoformat())
    add_lead(created=(now - timedelta(weeks=13)).isoformat())

    response = admin_client.get(DASHBOARD)

    today = timezone.localdate()
    assert response.context["date_from"] == numbers.first_week(today)
    assert response.context["date_to"] == today
    assert f'value="{today.isoformat()}"' in response.text
    assert table_row("Total", "1", "100%") in chart_html(response, "funnel")


def test_the_page_filters_by_product(admin_client, add_lead):
    add_lead(matchedProduct=product("Microloan"))
    add_lead(matchedProduct=product("Equipment Loan"))

    response = admin_client.get(
        DASHBOARD,
        {
            "date_from": "2024-06-01",
            "date_to": "2024-06-30",
            "product": product_pk("Microloan"),
        },
    )

    assert response.context["product"].name == "Microloan"
    assert table_row("Total", "1", "100%") in chart_html(response, "funnel")
    assert "Equipment Loan</th>" not in chart_html(response, "amounts")


def test_a_start_after_the_end_is_reported_and_draws_nothing(admin_client):
    response = admin_client.get(DASHBOARD, {"date_from": "2024-07-01", "date_to": "2024-06-01"})

    assert response.status_code == 200
    assert "The start date is after the end date." in response.text
    assert 'class="module dash-chart"' not in response.text


def test_staff_without_the_view_lead_permission_are_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("clerk", is_staff=True))

    assert client.get(DASHBOARD).status_code == 403
    assert f'href="{DASHBOARD}"' not in client.get(reverse("admin:index")).text


def test_staff_who_may_view_leads_see_the_page_and_the_link_to_it(client, django_user_model):
    officer = django_user_model.objects.create_user("officer", is_staff=True)
    officer.user_permissions.add(Permission.objects.get(codename="view_lead"))
    client.force_login(officer)

    assert client.get(DASHBOARD).status_code == 200
    assert f'href="{DASHBOARD}"' in client.get(reverse("admin:index")).text


def test_visitors_who_are_not_logged_in_are_sent_to_the_login(client):
    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("leads", [5, 50])
def test_the_page_takes_the_same_few_queries_whatever_the_number_of_leads(
    admin_client, add_lead, django_assert_max_num_queries, django_user_model, leads
):
    statuses = KNOWN + ["OnHold"]
    officers = [django_user_model.objects.create_user(f"officer{n}") for n in range(4)]
    for n in range(leads):
        lead_id = add_lead(
            created=f"2024-06-{n % 30 + 1:02}T12:00:00+00:00",
            status=statuses[n % len(statuses)],
            matchedProduct=product(f"Product {n % 13}"),
            leadSource=partner(f"Source {n % 12}"),
            fraudScore=(n % 11) / 10,
            servicePartner=partner(f"Partner {n % 13}"),
        )
        Lead.objects.filter(pk=lead_id).update(
            assigned_officer=officers[n % 5 - 1] if n % 5 else None
        )
        if n % 3:
            ownership.contacted(lead_id, datetime(2024, 6, n % 30 + 1, 12 + n % 11, tzinfo=UTC))
    assert Lead.objects.count() == leads

    with django_assert_max_num_queries(PAGE_QUERIES):
        response = admin_client.get(DASHBOARD, {"date_from": "2024-06-01", "date_to": "2024-06-30"})
    assert table_row("Total", str(leads), "100%") in chart_html(response, "funnel")


# --- Speed to lead ---------------------------------------------------------------------------


def contact_after(lead_id, hours: float, created: str = IN_JUNE) -> None:
    """The lead's first contact, `hours` after it was created, through the ownership service."""
    ownership.contacted(lead_id, datetime.fromisoformat(created) + timedelta(hours=hours))


@pytest.fixture
def officers(django_user_model):
    amy = django_user_model.objects.create_user("amy", first_name="Amy", last_name="Zhou")
    bo = django_user_model.objects.create_user("bo")
    return amy, bo


def assign(lead_id, officer) -> None:
    Lead.objects.filter(pk=lead_id).update(assigned_officer=officer)


def test_speed_by_officer_is_the_median_wait_and_the_share_contacted_in_time(add_lead, officers):
    amy, bo = officers
    for hours in [1, 2, 30]:  # odd: the middle one
        lead_id = add_lead()
        assign(lead_id, amy)
        contact_after(lead_id, hours)
    assign(add_lead(), amy)  # never contacted: counted, not in the median
    for hours in [3, 5.5]:  # even: the mean of the two middle ones
        lead_id = add_lead()
        assign(lead_id, bo)
        contact_after(lead_id, hours)
    contact_after(add_lead(), 48)  # nobody's

    assert numbers.speed_by_officer(*JUNE) == [
        Speed("Amy Zhou", amy.pk, leads=4, contacted=3, known=4, in_time=2, median_hours=2.0),
        Speed("bo", bo.pk, leads=2, contacted=2, known=2, in_time=2, median_hours=4.2),
        Speed("No officer", None, leads=1, contacted=1, known=1, in_time=0, median_hours=48.0),
    ]


def test_in_time_follows_the_setting(add_lead, settings):
    settings.LEAD_FIRST_CONTACT_HOURS = 2
    for hours in [1, 2, 3]:
        contact_after(add_lead(), hours)

    [row] = numbers.speed_by_officer(*JUNE)

    assert (row.in_time, row.known, row.share_in_time) == (2, 3, 2 / 3)


def test_a_lead_too_young_to_be_late_counts_for_the_share_only_once_contacted(add_lead):
    now = timezone.now()
    young = add_lead(created=(now - timedelta(hours=2)).isoformat())
    add_lead(created=(now - timedelta(hours=3)).isoformat())  # not contacted, not late yet
    late = add_lead(created=(now - timedelta(hours=30)).isoformat())  # never contacted: late
    ownership.contacted(young, now - timedelta(hours=1))
    today = timezone.localdate()

    [row] = numbers.speed_by_officer(today - timedelta(days=3), today)

    assert (row.leads, row.contacted, row.known, row.in_time) == (3, 1, 2, 1)
    assert Lead.objects.get(pk=late).first_contact_at is None


def test_speed_by_week_covers_the_weekly_charts_weeks_with_the_empty_ones(add_lead):
    early = add_lead(created="2024-04-08T09:00:00+00:00")
    contact_after(early, 10, "2024-04-08T09:00:00+00:00")
    for hours in [2, 4]:
        contact_after(
            add_lead(created="2024-06-25T09:00:00+00:00"), hours, "2024-06-25T09:00:00+00:00"
        )

    weeks = numbers.speed_by_week(date(2024, 6, 30))

    assert [week.key for week in weeks] == [
        date(2024, 4, 8) + timedelta(weeks=n) for n in range(12)
    ]
    assert (weeks[0].label, weeks[0].median_hours, weeks[0].leads) == ("Week of Apr 8", 10.0, 1)
    assert (weeks[-1].median_hours, weeks[-1].in_time) == (3.0, 2)
    assert [week.leads for week in weeks[1:-1]] == [0] * 10
    assert weeks[1].median_hours is None and weeks[1].share_in_time is None


def test_the_speed_charts_link_each_bar_to_the_officers_or_the_weeks_leads(
    admin_client, add_lead, officers
):
    amy, _ = officers
    lead_id = add_lead(created="2024-06-26T10:00:00+00:00")
    assign(lead_id, amy)
    contact_after(lead_id, 5, "2024-06-26T10:00:00+00:00")
    add_lead()  # unassigned

    response = admin_client.get(DASHBOARD, {"date_from": "2024-06-01", "date_to": "2024-06-30"})

    by_officer = chart_html(response, "speed-officer")
    assert table_row("Amy Zhou", "1", "1", "5 h", "1", "100%") in by_officer
    assert table_row("No officer", "1", "0", "–", "0", "0%") in by_officer
    [amy_link] = links(by_officer)
    assert amy_link == {
        "officer": [str(amy.pk)],
        "date_created__gte": ["2024-06-01T00:00:00+00:00"],
        "date_created__lt": ["2024-07-01T00:00:00+00:00"],
    }
    assert listed(admin_client, links(by_officer, raw=True)[0]) == {str(lead_id)}
    by_week = chart_html(response, "speed-week")
    assert table_row("Week of Jun 24", "1", "1", "5 h", "1", "100%") in by_week
    assert links(by_week)[-1] == {
        "date_created__gte": ["2024-06-24T00:00:00+00:00"],
        "date_created__lt": ["2024-07-01T00:00:00+00:00"],
    }
    assert listed(admin_client, links(by_week, raw=True)[-1]) == {str(lead_id)}


# --- Conversion by matched product and by lead source ------------------------------------------


def test_conversion_counts_leads_at_or_past_each_stage_by_product(add_lead):
    for status in ["Matched", "Contacted", "Qualified", "Funded", "Disqualified"]:
        add_lead(matchedProduct=product("Microloan"), status=status)
    add_lead(matchedProduct=product("Equipment Loan"), status="Funded")
    add_lead(matchedProduct=None, status="Reviewed")
    microloan, equipment = product_pk("Microloan"), product_pk("Equipment Loan")

    assert numbers.conversion("matched_product", *JUNE) == [
        Conversion("Microloan", microloan, 5, {"Contacted": 3, "Qualified": 2, "Funded": 1}),
        Conversion("Equipment Loan", equipment, 1, {"Contacted": 1, "Qualified": 1, "Funded": 1}),
        Conversion("No matched product", None, 1, {"Contacted": 0, "Qualified": 0, "Funded": 0}),
    ]


def test_conversion_by_lead_source_names_the_ten_busiest_and_sums_the_rest(add_lead):
    for n in range(1, 13):
        for _ in range(1 if n <= 2 else 2):
            add_lead(leadSource=partner(f"Source {n:02}"), status="Qualified")

    rows = numbers.conversion("lead_source", *JUNE)

    assert [row.label for row in rows] == [f"Source {n:02}" for n in range(3, 13)] + [
        "Other (2 sources)"
    ]
    assert rows[-1] == Conversion(
        "Other (2 sources)", None, 2, {"Contacted": 2, "Qualified": 2, "Funded": 0}
    )


def test_each_conversion_bar_links_to_exactly_the_leads_it_counts(admin_client, add_lead):
    wanted = {
        add_lead(matchedProduct=product("Microloan"), leadSource=partner("Bay SBDC"), status=s)
        for s in ["Contacted", "Qualified", "Funded"]
    }
    add_lead(matchedProduct=product("Microloan"), leadSource=partner("Bay SBDC"), status="Matched")
    add_lead(
        matchedProduct=product("Microloan"), status="Contacted", created="2024-07-02T10:00:00+00:00"
    )
    add_lead(matchedProduct=product("Other Loan"), leadSource=partner("Bay SBDC"), status="Funded")

    response = admin_client.get(DASHBOARD, {"date_from": "2024-06-01", "date_to": "2024-06-30"})

    by_product = chart_html(response, "conversion-matched-product")
    assert table_row("Microloan", "4", "3 (75%)", "2 (50%)", "1 (25%)") in by_product
    contacted_link = links(by_product, raw=True)[0]
    assert parse(contacted_link)["status__exact"] == ["Contacted", "Qualified", "Funded"]
    assert parse(contacted_link)["matched_product__id__exact"] == [str(product_pk("Microloan"))]
    assert listed(admin_client, contacted_link) == {str(pk) for pk in wanted}
    by_source = chart_html(response, "conversion-lead-source")
    assert table_row("Bay SBDC", "5", "4 (80%)", "3 (60%)", "2 (40%)") in by_source
    funded_link = links(by_source, raw=True)[2]
    source = Partner.objects.get(name="Bay SBDC").pk
    assert parse(funded_link)["lead_source__id__exact"] == [str(source)]
    assert len(listed(admin_client, funded_link)) == 2


def test_the_product_filter_is_kept_in_every_link(admin_client, add_lead):
    add_lead(matchedProduct=product("Microloan"), status="Funded")
    microloan = product_pk("Microloan")

    response = admin_client.get(
        DASHBOARD, {"date_from": "2024-06-01", "date_to": "2024-06-30", "product": microloan}
    )

    every = [link for key in CHARTS for link in links(chart_html(response, key))]
    assert every and all(link["matched_product__id__exact"] == [str(microloan)] for link in every)


def test_rows_without_a_product_or_source_and_other_are_not_links():
    rows = [
        Conversion("No matched product", None, 2, {"Contacted": 1, "Qualified": 0, "Funded": 0}),
        Conversion("Other (3 products)", None, 5, {"Contacted": 1, "Qualified": 1, "Funded": 1}),
    ]

    chart = charts.conversion_chart(rows, charts.Scope(*JUNE), by="matched_product")

    assert [bar.url for row in chart.rows for bar in row.bars] == [""] * 6
    assert [bar.width > 0 for bar in chart.rows[0].bars] == [True, False, False]


def test_the_funnel_links_each_status_to_its_leads(admin_client, add_lead):
    funded = add_lead(status="Funded")
    add_lead(status="Matched")

    response = admin_client.get(DASHBOARD, {"date_from": "2024-06-01", "date_to": "2024-06-30"})

    funnel = links(chart_html(response, "funnel"), raw=True)
    assert len(funnel) == len(KNOWN)
    assert listed(admin_client, funnel[KNOWN.index("Funded")]) == {str(funded)}


def links(html: str, *, raw: bool = False) -> list:
    urls = [url.replace("&amp;", "&") for url in re.findall(r'<a href="([^"]+)">', html)]
    return urls if raw else [parse(url) for url in urls]


def parse(url: str) -> dict[str, list[str]]:
    split = urlsplit(url)
    assert split.path == reverse("admin:leads_lead_changelist")
    found: dict[str, list[str]] = {}
    for key, value in parse_qsl(split.query):
        found.setdefault(key, []).append(value)
    return found


def listed(client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200, response.text[:500]
    return {str(lead.pk) for lead in response.context["cl"].result_list}


@pytest.mark.django_db
def test_the_charts_are_cached_for_a_few_minutes_per_range(client, login, add_lead):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login("Loan officer")
    add_lead()
    with CaptureQueriesContext(connection) as computed:
        assert client.get(DASHBOARD).status_code == 200
    with CaptureQueriesContext(connection) as cached:
        assert client.get(DASHBOARD).status_code == 200
    assert len(computed) - len(cached) >= 10  # the aggregates, read from the cache
    with CaptureQueriesContext(connection) as other_range:
        client.get(DASHBOARD, {"date_from": "2020-01-01", "date_to": "2020-12-31"})
    assert len(other_range) == len(computed)  # another range is its own
    cache.clear()
    with CaptureQueriesContext(connection) as again:
        client.get(DASHBOARD)
    assert len(again) == len(computed)

"""In a real browser (Debian's Chromium, driven by Playwright): a loan officer's day and the
manager's dashboard, and every form and action of the two roles clicked, each checked in the
database. Screenshots go to screenshots/ (git-ignored) for a person to look at."""

import csv
import io
import json
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from alerts import services as alert_services
from alerts.models import Alert, CRSUser, NotificationRule
from leadcrm.roles import LENDING_MANAGER, LOAN_OFFICER, ensure_roles
from leads.choices import WriteBack
from leads.dispositions import services as dispositions
from leads.intake import services
from leads.models import Disposition, ExportLog, Lead, LeadDelivery, LeadNote
from leads.ownership import services as ownership
from tests.browser import PASSWORD, SHOTS
from tests.crf_api import problem

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_loan_officer_filters_opens_a_lead_and_exports_what_they_saw(
    logged_in, live_server, add_lead, sample_lead
):
    wanted = add_lead(status="Reviewed", fraudScore=0, nameOfBusiness="Wanted Bakery")
    add_lead(status="Reviewed", fraudScore=0.3, nameOfBusiness="Risky Bakery")
    add_lead(status="Matched", fraudScore=0, nameOfBusiness="Early Bakery")
    other_product = {**sample_lead["matchedProduct"], "id": str(uuid.uuid4()), "name": "Other Loan"}
    add_lead(
        status="Reviewed", fraudScore=0, nameOfBusiness="Other Bakery", matchedProduct=other_product
    )
    services.receive_lead(
        json.dumps(
            {
                **sample_lead,
                "id": wanted,
                "status": "Contacted",
                "fraudScore": 0,
                "nameOfBusiness": "Wanted Bakery",
            }
        ).encode()
    )
    services.process_lead(uuid.UUID(wanted))
    page = logged_in(LOAN_OFFICER)

    page.goto(f"{live_server.url}/admin/leads/lead/")
    page.get_by_role("link", name="Contacted", exact=True).click()
    page.get_by_role("link", name="0", exact=True).click()
    page.get_by_role("link", name="Some Product", exact=True).click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)  # waits for the filtered page
    expect(rows.first).to_contain_text("Wanted Bakery")
    page.screenshot(path=SHOTS / "officer-lead-list.png", full_page=True)

    with page.expect_download() as download:
        page.click("#export-all")
    exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [row["id"] for row in exported] == [wanted]
    assert "ownershipDemographicTypes" not in exported[0]

    rows.first.locator("th a").click()
    expect(page.locator("#timeline")).to_contain_text("Reviewed → Contacted")
    timeline = page.locator("#timeline").inner_text()
    assert timeline.index("Reviewed → Contacted") < timeline.index("(new lead) → Reviewed")
    assert "Veteran" not in page.content()  # no ownership demographics for loan officers
    page.screenshot(path=SHOTS / "officer-lead-page.png", full_page=True)
    assert Lead.objects.get(pk=wanted).status == "Contacted"


def test_a_manager_sees_the_dashboard_with_its_charts_drawn(logged_in, live_server, add_lead):
    for status in ["Matched", "Reviewed", "Funded", "Funded"]:
        add_lead(status=status, dateCreated=timezone.now().isoformat())
    page = logged_in(LENDING_MANAGER)

    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Dashboard").first.click()

    charts = page.locator("svg[aria-label]")
    expect(charts).to_have_count(9)
    for index in range(9):
        box = charts.nth(index).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 50  # drawn, not empty
    assert page.locator("svg rect").count() > 10
    page.screenshot(path=SHOTS / "manager-dashboard.png", full_page=True)

    # A bar is a link to its leads: the matched product's Funded bar.
    funded = page.locator("#chart-conversion-matched-product svg a").nth(2)
    expect(funded.locator("rect title")).to_contain_text("2 of 4 reached Funded")
    funded.locator("rect").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Funded")


def test_the_lead_list_fits_a_1400_px_window_with_both_sidebars_open(
    logged_in, live_server, add_lead, sample_lead, django_user_model, settings
):
    product = "Small Business Working Capital Line of Credit (Minneapolis Metro Team)"
    partner = "Northside Economic Opportunity Network Technical Assistance Partners"
    long_product = {**sample_lead["matchedProduct"], "id": str(uuid.uuid4()), "name": product}
    long_partner = {**sample_lead["servicePartner"], "id": str(uuid.uuid4()), "name": partner}
    business = "Twin Cities Artisanal Sourdough Bakery and Community Coffee Roasters LLC"
    lead_ids = [
        add_lead(
            nameOfBusiness=business,
            firstName="Maximiliana",
            lastName="Vandenberghe-Oyelaran",
            requestedAmount=1250000.0,
            fraudScore=0.93,
            matchedProduct=long_product,
            servicePartner=long_partner,
        ),
        add_lead(
            nameOfBusiness="Great Lakes Precision Machining, Fabrication & Supply Co-op",
            requestedAmount=75000.0,
            fraudScore=0.3,
            status="Reviewed",
            matchedProduct=long_product,
        ),
        add_lead(status="Disqualified"),
    ]
    officer = django_user_model.objects.create_user("christopherson", "chris@lender.example", "x")
    ownership.assign(Lead.objects.filter(pk__in=lead_ids[:2]), officer, by=None)
    # The status column's longest words: a disposition CRF refused, beneath CRF's status.
    settings.CRF_API_KEY = ""
    disposition = dispositions.record(
        Lead.objects.get(pk=lead_ids[0]), {"id": lead_ids[0], "status": "Disqualified"}, officer
    )
    Disposition.objects.filter(pk=disposition.pk).update(
        state=WriteBack.FAILED,
        error="CRF answered 409: The lead is closed and cannot be updated by this partner",
    )
    page = logged_in(LOAN_OFFICER)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'true')")

    page.goto(f"{live_server.url}/admin/leads/lead/")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    expect(page.locator("#nav-sidebar")).to_be_visible()
    expect(page.locator("#changelist-filter")).to_be_visible()
    page.screenshot(path=SHOTS / "officer-lead-list-1400.png")

    # 1385: the window with a classic 15-px vertical scrollbar, which headless Chromium hides.
    for width in [1400, 1385]:
        page.set_viewport_size({"width": width, "height": 900})
        sizes = page.evaluate("""() => {
            const results = document.querySelector('#changelist-form .results');
            return {page: document.documentElement.scrollWidth, window: window.innerWidth,
                    table: results.scrollWidth, box: results.clientWidth};
        }""")
        assert sizes["page"] <= sizes["window"] == width, sizes
        assert sizes["table"] <= sizes["box"], sizes  # Django's `.results` scrolls by itself
        last_header = page.locator("#result_list thead th").last
        expect(last_header).to_contain_text("created", ignore_case=True)
        header = last_header.bounding_box()
        results = page.locator("#changelist-form .results").bounding_box()
        assert header["x"] + header["width"] <= min(results["x"] + results["width"], width)

    # Long texts are cut on screen, never lost: the title holds them.
    expect(page.get_by_title(business)).to_have_count(1)
    expect(page.get_by_title(product)).to_have_count(2)
    expect(page.get_by_title(partner)).to_have_count(1)
    expect(page.get_by_title("Disqualified — failed: CRF answered 409", exact=False)).to_have_count(
        1
    )


def long_rows_in_every_list(add_lead, sample_lead, sample_batch, django_user_model) -> None:
    """Rows with the longest texts each list shows: names, ids, errors, filters, notes."""
    business = "Twin Cities Artisanal Sourdough Bakery and Community Coffee Roasters LLC"
    lead_id = add_lead(nameOfBusiness=business)
    officer = django_user_model.objects.create_user("christopherson-vandenberghe", is_staff=True)
    items = [
        {
            **item,
            "alert_source": "Experian Consumer Credit Monitoring Service (Premium Tier)",
            "error_code": "REG-104-IDENTITY-VERIFICATION-FAILED-AT-BUREAU",
        }
        for item in sample_batch
    ]
    alert_services.receive_alerts(json.dumps(items).encode())
    CRSUser.objects.filter(pk=sample_batch[0]["user_id"]).update(
        name="Maximiliana Vandenberghe-Oyelaran",
        email="maximiliana.vandenberghe@example.org",
        lead=lead_id,
    )
    alert_services.mark_handled(
        Alert.objects.filter(pk=sample_batch[0]["id"]),
        django_user_model.objects.create_superuser("supervisor-of-credit-alerts"),
        "Called the applicant: she opened the new card herself, nothing to worry about at all.",
    )
    services.receive_lead(b'{"id": "' + str(uuid.uuid4()).encode() + b'", "status": 3}')
    failed = services.receive_lead(json.dumps({**sample_lead, "id": str(uuid.uuid4())}).encode())
    LeadDelivery.objects.filter(pk=failed.delivery.pk).update(
        outcome="failed",
        attempts=8,
        error="OperationalError: could not serialize access due to concurrent update " * 3,
    )
    ExportLog.objects.create(
        user=officer,
        source=ExportLog.Source.LIST,
        filters={
            "status__exact": "Qualified",
            "matched_product__id__exact": "12",
            "lead_source__id__exact": "7",
            "date_created__gte": "2026-11-01T00:00:00+00:00",
            "q": "bakery coffee roasters minneapolis",
        },
        rows=1_234_567,
        finished_at=timezone.now(),
    )


@pytest.mark.parametrize(
    ("url", "last_column"),
    [
        ("admin:alerts_alert_changelist", "handled"),
        ("admin:leads_leaddelivery_changelist", "error"),
        ("admin:leads_exportlog_changelist", "finished"),
    ],
)
def test_the_alert_delivery_and_export_lists_fit_a_1400_px_window_with_both_sidebars_open(
    logged_in, live_server, add_lead, sample_lead, sample_batch, django_user_model, url, last_column
):
    long_rows_in_every_list(add_lead, sample_lead, sample_batch, django_user_model)
    page = logged_in(LENDING_MANAGER)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'true')")

    page.goto(f"{live_server.url}{reverse(url)}")
    expect(page.locator("#result_list tbody tr").first).to_be_visible()
    expect(page.locator("#nav-sidebar")).to_be_visible()
    expect(page.locator("#changelist-filter")).to_be_visible()
    page.screenshot(path=SHOTS / f"manager-{url.split(':')[1]}-1400.png")

    # 1385: the window with a classic 15-px vertical scrollbar, which headless Chromium hides.
    for width in [1400, 1385]:
        page.set_viewport_size({"width": width, "height": 900})
        sizes = page.evaluate("""() => {
            const results = document.querySelector('#changelist-form .results');
            return {page: document.documentElement.scrollWidth, window: window.innerWidth,
                    table: results.scrollWidth, box: results.clientWidth};
        }""")
        assert sizes["page"] <= sizes["window"] == width, sizes
        assert sizes["table"] <= sizes["box"], sizes  # Django's `.results` scrolls by itself
        last_header = page.locator("#result_list thead th").last
        expect(last_header).to_contain_text(last_column, ignore_case=True)
        header = last_header.bounding_box()
        results = page.locator("#changelist-form .results").bounding_box()
        assert header["x"] + header["width"] <= min(results["x"] + results["width"], width)


# --- Every form and action of the two roles, clicked -----------------------------------------


def officer_or_manager(role: str):
    return get_user_model().objects.get(username=role.split()[-1])  # as `logged_in` made them


def run_action(page, action: str, *rows: str) -> None:
    """Tick the list rows holding each text, pick the action by its label and press Go."""
    for text in rows:
        page.locator("#result_list tbody tr", has_text=text).locator("input.action-select").check()
    page.select_option("select[name=action]", label=action)
    page.get_by_role("button", name="Go").click()


def downloaded_rows(download) -> list[dict]:
    return list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))


@pytest.mark.parametrize("role", [LOAN_OFFICER, LENDING_MANAGER])
def test_staff_add_a_note_on_the_lead_page_and_land_back_on_it(
    logged_in, live_server, add_lead, role
):
    lead_id = add_lead(nameOfBusiness="Noted Bakery")
    page = logged_in(role)
    page.goto(f"{live_server.url}{reverse('admin:leads_lead_change', args=[lead_id])}")

    page.get_by_label("New note").fill("Called, <b>left</b> a message.\nCalls back Monday.")
    page.get_by_role("button", name="Add note").click()

    page.wait_for_url(f"**/{lead_id}/change/#timeline")
    note_shown = page.locator("#timeline .note")
    expect(note_shown).to_have_count(1)
    expect(note_shown).to_contain_text("Called, <b>left</b> a message.")
    expect(note_shown).to_contain_text(role.split()[-1])
    note = LeadNote.objects.get()
    assert (str(note.lead_id), note.author) == (lead_id, officer_or_manager(role))
    # As typed; a browser sends a textarea's line breaks as CRLF.
    assert note.text.splitlines() == ["Called, <b>left</b> a message.", "Calls back Monday."]
    page.screenshot(path=SHOTS / f"{role.split()[-1]}-note-added.png", full_page=True)

    page.get_by_label("New note").fill("   ")  # passes `required`; the server refuses it
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".messagelist")).to_contain_text("A note needs some text.")
    expect(page.locator(".messagelist")).to_be_in_viewport()  # not above a page scrolled down
    expect(note_shown).to_have_count(1)
    assert LeadNote.objects.count() == 1


def test_a_loan_officer_assigns_leads_to_themselves_and_unassigns_one(
    logged_in, live_server, add_lead
):
    names = ["First", "Second", "Third"]
    first, second, third = (uuid.UUID(add_lead(nameOfBusiness=f"{name} Bakery")) for name in names)
    page = logged_in(LOAN_OFFICER)
    officer = officer_or_manager(LOAN_OFFICER).pk
    page.goto(f"{live_server.url}/admin/leads/lead/")

    run_action(page, "Take selected leads (assign to me)", "First Bakery", "Second Bakery")
    expect(page.locator(".messagelist")).to_contain_text("You took 2 leads.")
    assigned = dict(Lead.objects.values_list("pk", "assigned_officer"))
    assert assigned == {first: officer, second: officer, third: None}
    row = page.locator("#result_list tbody tr", has_text="First Bakery")
    expect(row.locator("td.field-officer")).to_have_text("officer")

    run_action(page, "Release selected leads (unassign)", "First Bakery")
    expect(page.locator(".messagelist")).to_contain_text("Unassigned 1 lead.")
    assigned = dict(Lead.objects.values_list("pk", "assigned_officer"))
    assert assigned == {first: None, second: officer, third: None}
    expect(row.locator("td.field-officer")).to_have_text("-")


def test_a_loan_officer_exports_selected_leads_and_then_the_whole_filtered_list(
    logged_in, live_server, add_lead
):
    first = add_lead(nameOfBusiness="First Bakery", status="Reviewed")
    second = add_lead(nameOfBusiness="Second Bakery", status="Reviewed")
    third = add_lead(nameOfBusiness="Third Bakery", status="Funded")
    page = logged_in(LOAN_OFFICER)
    officer = officer_or_manager(LOAN_OFFICER)
    page.goto(f"{live_server.url}/admin/leads/lead/")

    with page.expect_download() as download:
        run_action(page, "Export selected leads to CSV", "First Bakery", "Third Bakery")
    assert sorted(row["id"] for row in downloaded_rows(download)) == sorted([first, third])
    log = ExportLog.objects.get()
    assert (log.user, log.source, log.rows) == (officer, ExportLog.Source.SELECTED, 2)

    page.get_by_role("link", name="Reviewed", exact=True).click()
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export all 2 matching to CSV").click()
    assert sorted(row["id"] for row in downloaded_rows(download)) == sorted([first, second])
    log = ExportLog.objects.exclude(pk=log.pk).get()
    assert (log.user, log.source, log.rows) == (officer, ExportLog.Source.LIST, 2)
    assert log.filters == {"status__exact": "Reviewed"}


def test_a_loan_officer_opening_a_page_they_may_not_see_gets_the_admins_403_page(
    logged_in, live_server, add_lead
):
    delivery = LeadDelivery.objects.get(lead_id=add_lead(nameOfBusiness="Quiet Bakery"))
    page = logged_in(LOAN_OFFICER)
    forbidden = [
        reverse("admin:leads_leaddelivery_changelist"),
        reverse("admin:leads_leaddelivery_change", args=[delivery.pk]),
        reverse("admin:alerts_notificationrule_changelist"),
    ]
    for url in forbidden:
        response = page.goto(f"{live_server.url}{url}")

        assert response.status == 403, url
        expect(page.locator("#header")).to_contain_text("LeadCRM")
        expect(page.locator("#nav-sidebar")).to_be_visible()
        expect(page.locator("#nav-sidebar")).to_contain_text("Leads")
        expect(page.locator("#nav-sidebar")).not_to_contain_text("Lead deliveries")
        expect(page.locator(".breadcrumbs")).to_contain_text("Permission denied")
        expect(page.locator("#permission-denied")).to_contain_text(
            "You do not have permission to open this page; an administrator can grant it"
        )
        content = page.content()
        assert "Quiet Bakery" not in content and delivery.body_sha256 not in content
    page.screenshot(path=SHOTS / "officer-forbidden.png", full_page=True)

    page.locator(".breadcrumbs").get_by_role("link", name="Home").click()
    page.wait_for_url(f"{live_server.url}/admin/")


def test_a_manager_reprocesses_a_failed_delivery_from_the_deliveries_list(
    logged_in, live_server, sample_lead
):
    lead = {**sample_lead, "id": str(uuid.uuid4()), "nameOfBusiness": "Retried Bakery"}
    table = Lead._meta.db_table

    def refuse_new_leads(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT") and f'"{table}" ' in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    # Received for real; its processing, right after the commit, meets a database that refuses.
    with connection.execute_wrapper(refuse_new_leads):
        services.receive_lead(json.dumps(lead).encode())
    delivery = LeadDelivery.objects.get(lead_id=lead["id"])
    assert delivery.outcome == "failed" and "OperationalError" in delivery.error
    assert not Lead.objects.filter(pk=lead["id"]).exists()
    page = logged_in(LENDING_MANAGER)
    page.goto(f"{live_server.url}/admin/leads/leaddelivery/")

    run_action(page, "Reprocess selected deliveries", lead["id"])

    expect(page.locator(".messagelist")).to_contain_text("Queued 1 lead for processing.")
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.error) == ("processed", "")
    assert Lead.objects.get(pk=lead["id"]).name_of_business == "Retried Bakery"
    row = page.locator("#result_list tbody tr", has_text="Retried Bakery")
    expect(row.locator("td.field-outcome")).to_have_text("Processed")


def test_a_manager_adds_a_notification_rule_and_changes_it(logged_in, live_server):
    page = logged_in(LENDING_MANAGER)
    before = set(NotificationRule.objects.values_list("pk", flat=True))
    page.goto(f"{live_server.url}/admin/alerts/notificationrule/")
    page.locator(".object-tools").get_by_role("link", name="Add notification rule").click()

    page.select_option("#id_alert_type", "ACCALERT")
    page.check("#id_notify_assigned_officer")
    page.fill("#id_addresses", "desk@lender.example")
    page.fill("#id_subject_template", "Alert: {{ type_label }}")
    page.fill("#id_body_template", "{{ type_label }} for {{ user }}.")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    rule = NotificationRule.objects.exclude(pk__in=before).get()
    assert (rule.alert_type, rule.active, rule.notify_crs_user, rule.notify_assigned_officer) == (
        "ACCALERT",
        True,
        False,
        True,
    )
    assert (rule.addresses, rule.subject_template, rule.body_template) == (
        "desk@lender.example",
        "Alert: {{ type_label }}",
        "{{ type_label }} for {{ user }}.",
    )

    page.goto(f"{live_server.url}{reverse('admin:alerts_notificationrule_change', args=[rule.pk])}")
    page.select_option("#id_alert_type", "SCOREREF")
    page.uncheck("#id_active")
    page.check("#id_notify_crs_user")
    page.fill("#id_addresses", "desk@lender.example, risk@lender.example")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    rule.refresh_from_db()
    assert (rule.alert_type, rule.active, rule.notify_crs_user, rule.notify_assigned_officer) == (
        "SCOREREF",
        False,
        True,
        True,
    )
    assert rule.addresses == "desk@lender.example, risk@lender.example"
    assert rule.subject_template == "Alert: {{ type_label }}"


def test_a_manager_links_a_crs_user_to_a_lead_and_the_lead_page_lists_their_alerts(
    logged_in, live_server, add_lead, sample_batch
):
    lead_id = add_lead(nameOfBusiness="Linked Bakery")  # the sample's Bob Lastnameson
    add_lead(nameOfBusiness="Another Bakery", firstName="Robert", lastName="Other")
    alert_services.receive_alerts(json.dumps(sample_batch).encode())
    CRSUser.objects.filter(pk=sample_batch[0]["user_id"]).update(name="Bob Lastnameson")
    person = CRSUser.objects.get(pk=sample_batch[0]["user_id"])
    page = logged_in(LENDING_MANAGER)
    page.goto(f"{live_server.url}{reverse('admin:alerts_crsuser_change', args=[person.pk])}")

    # Opened empty, the lead field offers the leads with this person's email, then their name.
    page.locator(".field-lead .select2-selection").click()
    expect(page.locator(".select2-results__group").first).to_have_text("Same name")
    options = page.get_by_role("option")
    expect(options).to_have_count(1)  # Robert Other is not Bob Lastnameson
    options.filter(has_text="Linked Bakery").click()
    expect(page.locator("#id_lead")).to_have_value(lead_id)
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    person.refresh_from_db()
    assert str(person.lead_id) == lead_id
    page.goto(f"{live_server.url}{reverse('admin:leads_lead_change', args=[lead_id])}")
    alerts = page.locator("#timeline")
    expect(alerts).to_contain_text("Account alert (credit)")
    expect(alerts).to_contain_text("Score refreshed")
    expect(alerts).to_contain_text("from Equifax")
    expect(alerts).not_to_contain_text("Account registration failed")  # another person's


def test_a_loan_officer_finds_an_alert_on_their_lead_and_marks_it_handled_with_a_note(
    logged_in, live_server, add_lead, sample_batch
):
    lead_id = add_lead(nameOfBusiness="Watched Bakery")
    alert_services.receive_alerts(json.dumps(sample_batch).encode())
    CRSUser.objects.filter(pk=sample_batch[0]["user_id"]).update(lead=lead_id)
    page = logged_in(LOAN_OFFICER)
    ownership.assign(Lead.objects.filter(pk=lead_id), officer_or_manager(LOAN_OFFICER), by=None)

    page.goto(f"{live_server.url}{reverse('admin:alerts_alert_changelist')}")
    page.get_by_role("link", name="Alerts on my leads").click()
    page.get_by_role("link", name="Not handled").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Watched Bakery")
    rows.filter(has_text="Account alert (credit)").locator("th a").click()

    page.get_by_label("How the alert was handled").fill("Called Bob: he opened the card himself.")
    page.get_by_role("button", name="Mark handled").click()

    expect(page.locator(".messagelist")).to_contain_text("Marked the alert handled.")
    expect(page.locator(".field-handled")).to_contain_text(
        "Called Bob: he opened the card himself."
    )
    alert = Alert.objects.get(pk=sample_batch[0]["id"])
    assert alert.handled_by == officer_or_manager(LOAN_OFFICER)
    assert alert.handled_note == "Called Bob: he opened the card himself."
    assert Alert.objects.get(pk=sample_batch[1]["id"]).handled_at is None
    page.goto(f"{live_server.url}{reverse('admin:alerts_alert_changelist')}?mine=yes&handled=no")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.screenshot(path=SHOTS / "officer-alert-handled.png", full_page=True)


def test_repeated_wrong_passwords_lock_the_login_until_an_administrator_unlocks_it(
    browser, live_server, django_user_model, settings
):
    django_user_model.objects.create_user("forgetful", password=PASSWORD, is_staff=True)
    page = browser.new_page()

    def log_in(password: str) -> None:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "forgetful")
        page.fill("#id_password", password)
        page.click("input[type=submit]")

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("wrong-password")
        expect(page.locator(".errornote")).to_be_visible()  # the form again, saying why
    log_in("wrong-password")
    expect(page.locator("#locked-out")).to_contain_text("Too many failed logins for forgetful")
    log_in(PASSWORD)
    expect(page.locator("#locked-out")).to_be_visible()  # the right password too, while locked
    page.screenshot(path=SHOTS / "login-locked-out.png", full_page=True)

    call_command("axes_reset_username", "forgetful")
    log_in(PASSWORD)
    page.wait_for_url(f"{live_server.url}/admin/")
    page.close()


# --- Working a lead: dispositions written back to the test CRF -------------------------------
# Without a broker the write-back task runs in-process right after the commit: the POST to the
# test CRF happens while the form is submitted.


def record(page, status: str, **fields: str) -> None:
    """Fill "Work this lead" by the labels an officer reads, and press the button."""
    page.get_by_label("New status").select_option(status)
    for label, value in fields.items():
        page.get_by_label(label, exact=False).fill(value)
    page.get_by_role("button", name="Record disposition").click()


def test_an_officer_marks_a_lead_contacted_then_funded_and_sees_crf_confirm_each(
    logged_in, live_server, add_lead, crf_api, post_lead, sample_lead
):
    lead_id = add_lead(nameOfBusiness="Worked Bakery")
    as_crf_has_it = {**sample_lead, "id": lead_id, "nameOfBusiness": "Worked Bakery"}
    page = logged_in(LOAN_OFFICER)
    page.goto(f"{live_server.url}{reverse('admin:leads_lead_change', args=[lead_id])}")
    summary = page.locator("#summary")
    expect(summary).to_contain_text("Worked Bakery")
    expect(page.locator("#crf-off")).to_have_count(0)  # a CRF key is set
    expect(page.get_by_label("Funded amount ($)")).to_be_hidden()  # terms go with Funded only

    record(page, "Contacted")

    expect(page.locator(".messagelist")).to_contain_text(
        "Recorded Contacted — sent to CRF, awaiting confirmation."
    )
    expect(summary).to_contain_text("Contacted — sent to CRF, awaiting confirmation")
    contacted = {"id": lead_id, "status": "Contacted"}
    assert crf_api.posted(lead_id) == [contacted]
    # CRF's lead update says what it took; the page shows it confirmed.
    assert post_lead({**as_crf_has_it, "status": "Contacted"}).status_code == 202
    page.reload()
    expect(summary).to_contain_text("Contacted — confirmed by CRF")
    page.screenshot(path=SHOTS / "officer-contacted-confirmed.png", full_page=True)

    page.get_by_label("New status").select_option("Funded")
    expect(page.get_by_label("Funded amount ($)")).to_be_visible()
    page.get_by_role("button", name="Record disposition").click()  # no terms: refused
    expect(page.locator("#work")).to_contain_text("Funded on is required when the lead is Funded.")
    expect(page.locator("#work .errornote")).to_be_visible()
    assert crf_api.posted(lead_id) == [contacted]
    record(
        page,
        "Funded",
        **{
            "Funded on": "2026-11-30",
            "Funded amount ($)": "20000",
            "Interest rate (%)": "7.25",
            "Term (months)": "36",
        },
    )

    expect(page.locator(".messagelist")).to_contain_text(
        "Recorded Funded — sent to CRF, awaiting confirmation."
    )
    expect(summary).to_contain_text("Funded — sent to CRF, awaiting confirmation")
    funded = {
        "id": lead_id,
        "status": "Funded",
        "fundedDate": "2026-11-30",
        "fundedAmount": 20000.0,
        "fundedInterestRate": 7.25,
        "fundedTermMonths": 36,
    }
    assert crf_api.posted(lead_id) == [contacted, funded]
    assert post_lead({**as_crf_has_it, "status": "Funded"}).status_code == 202
    page.reload()
    expect(summary).to_contain_text("Funded — confirmed by CRF")
    timeline = page.locator("#timeline .disposition")
    expect(timeline).to_have_count(2)
    expect(timeline.first).to_contain_text("Funded · $20,000.00 · rate 7.25% · 36 months")
    expect(timeline.first).to_contain_text("confirmed by CRF")
    expect(timeline.last).to_contain_text("confirmed by CRF")
    page.screenshot(path=SHOTS / "officer-funded-confirmed.png", full_page=True)

    assert crf_api.posted(lead_id) == [contacted, funded]  # each once, in order
    rows = Disposition.objects.filter(lead_id=lead_id).order_by("id")
    assert [(d.status, d.state, d.body) for d in rows] == [
        ("Contacted", WriteBack.SENT, contacted),
        ("Funded", WriteBack.SENT, funded),
    ]
    assert all(d.confirmed_at and d.author == officer_or_manager(LOAN_OFFICER) for d in rows)
    assert Lead.objects.get(pk=lead_id).disposition == rows.last()

    page.goto(f"{live_server.url}/admin/leads/lead/")
    row = page.locator("#result_list tbody tr", has_text="Worked Bakery")
    expect(row.locator("td.field-status_badge")).to_contain_text("Funded — confirmed by CRF")


def test_crfs_refusal_shows_on_the_lead_page_in_crfs_words(
    logged_in, live_server, add_lead, crf_api
):
    lead_id = add_lead(nameOfBusiness="Closed Bakery")
    crf_api.script(problem(409, "Conflict", "Lead is closed"))
    page = logged_in(LOAN_OFFICER)
    page.goto(f"{live_server.url}{reverse('admin:leads_lead_change', args=[lead_id])}")
    expect(page.get_by_label("Withdrawn because")).to_be_hidden()

    page.get_by_label("New status").select_option("Withdrawn")
    page.get_by_label("Withdrawn because").select_option("LostBidToCompetitor")
    page.get_by_role("button", name="Record disposition").click()

    expect(page.locator(".messagelist .warning")).to_contain_text(
        "Recorded Withdrawn — failed: CRF answered 409: Lead is closed."
    )
    expect(page.locator("#summary")).to_contain_text(
        "Withdrawn — failed: CRF answered 409: Lead is closed"
    )
    entry = page.locator("#timeline .disposition")
    expect(entry).to_contain_text("Withdrawn · Lost bid to competitor")
    expect(entry).to_contain_text("CRF said: Conflict: Lead is closed")
    page.screenshot(path=SHOTS / "officer-disposition-refused.png", full_page=True)
    body = {"id": lead_id, "status": "Withdrawn", "withdrawnReason": "LostBidToCompetitor"}
    assert crf_api.posted(lead_id) == [body]
    disposition = Disposition.objects.get(lead_id=lead_id)
    assert (disposition.state, disposition.problem["detail"]) == (
        WriteBack.FAILED,
        "Lead is closed",
    )


def test_without_a_crf_key_the_lead_page_says_nothing_is_sent(
    logged_in, live_server, add_lead, settings
):
    settings.CRF_API_KEY = ""
    lead_id = add_lead(nameOfBusiness="Local Bakery")
    page = logged_in(LOAN_OFFICER)
    page.goto(f"{live_server.url}{reverse('admin:leads_lead_change', args=[lead_id])}")
    expect(page.locator("#crf-off")).to_contain_text(
        "dispositions are recorded in LeadCRM only and not sent to CRF"
    )

    # Terms typed for Funded, then another status chosen: hidden, and not sent.
    page.get_by_label("New status").select_option("Funded")
    page.get_by_label("Funded amount ($)").fill("5000")
    record(page, "Qualified")

    expect(page.locator("#summary")).to_contain_text("Qualified — not sent to CRF (no CRF key)")
    disposition = Disposition.objects.get(lead_id=lead_id)
    assert (disposition.state, disposition.body) == (
        WriteBack.LOCAL,
        {"id": lead_id, "status": "Qualified"},
    )


def test_without_javascript_every_field_shows_and_the_server_says_what_goes_where(
    browser, live_server, django_user_model, add_lead, settings
):
    settings.CRF_API_KEY = ""
    ensure_roles(Group, Permission)
    user = django_user_model.objects.create_user("officer", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=LOAN_OFFICER))
    lead_id = add_lead(nameOfBusiness="Plain Bakery")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "officer")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}{reverse('admin:leads_lead_change', args=[lead_id])}")
    for label in ["Funded amount ($)", "Disqualified because", "Withdrawn because"]:
        expect(page.get_by_label(label)).to_be_visible()

    page.get_by_label("New status").select_option("Withdrawn")
    page.get_by_label("Funded amount ($)").fill("5000")
    page.get_by_role("button", name="Record disposition").click()

    work = page.locator("#work")
    expect(work).to_contain_text("The disposition was not recorded")
    expect(work.locator(".field-fundedAmount")).to_contain_text(
        "Funding terms go with Funded only."
    )
    expect(work.locator(".field-withdrawnReason")).to_contain_text("Say why the lead is Withdrawn.")
    expect(page.get_by_label("Funded amount ($)")).to_have_value("5000")  # as typed
    page.screenshot(path=SHOTS / "officer-disposition-without-javascript.png", full_page=True)
    assert not Disposition.objects.exists()
    context.close()

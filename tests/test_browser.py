"""In a real browser (Debian's Chromium, driven by Playwright): a loan officer's day and the
manager's dashboard. Screenshots go to screenshots/ (git-ignored) for a person to look at."""

import csv
import io
import json
import os
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from playwright.sync_api import expect

from leads import services
from leads.models import Lead
from leads.roles import LENDING_MANAGER, LOAN_OFFICER, ensure_roles

CHROMIUM = os.environ.get("CHROMIUM", "/usr/lib/chromium/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "screenshots"
PASSWORD = "browser-test-password"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain.
    # Only for these tests: `check --deploy` rightly refuses the variable anywhere else.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"],
            )
            yield chromium
            chromium.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def logged_in(browser, live_server, django_user_model):
    """A page logged in as a new member of the role, through the login form."""
    ensure_roles(Group, Permission)  # earlier transactional tests emptied the tables
    pages = []

    def as_role(role: str):
        username = role.split()[-1]
        user = django_user_model.objects.create_user(username, f"{username}@lender.example", PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        page = browser.new_page(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
        pages.append(page)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        return page

    yield as_role
    for page in pages:
        page.close()


def test_a_loan_officer_filters_opens_a_lead_and_exports_what_they_saw(logged_in, live_server, add_lead, sample_lead):
    wanted = add_lead(status="Reviewed", fraudScore=0, nameOfBusiness="Wanted Bakery")
    add_lead(status="Reviewed", fraudScore=0.3, nameOfBusiness="Risky Bakery")
    add_lead(status="Matched", fraudScore=0, nameOfBusiness="Early Bakery")
    other_product = {**sample_lead["matchedProduct"], "id": str(uuid.uuid4()), "name": "Other Loan"}
    add_lead(status="Reviewed", fraudScore=0, nameOfBusiness="Other Bakery", matchedProduct=other_product)
    services.receive_lead(json.dumps({**sample_lead, "id": wanted, "status": "Contacted",
                                      "fraudScore": 0, "nameOfBusiness": "Wanted Bakery"}).encode())
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
    expect(page.locator(".inline-group").first).to_contain_text("Contacted")
    timeline = page.locator(".inline-group").first.inner_text()
    assert timeline.index("Reviewed") < timeline.index("Contacted")
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
    expect(charts).to_have_count(5)
    for index in range(5):
        box = charts.nth(index).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 50  # drawn, not empty
    assert page.locator("svg rect").count() > 10
    page.screenshot(path=SHOTS / "manager-dashboard.png", full_page=True)


def test_the_lead_list_fits_a_1400_px_window_with_both_sidebars_open(
    logged_in, live_server, add_lead, sample_lead, django_user_model
):
    product = "Small Business Working Capital Line of Credit (Minneapolis Metro Team)"
    partner = "Northside Economic Opportunity Network Technical Assistance Partners"
    long_product = {**sample_lead["matchedProduct"], "id": str(uuid.uuid4()), "name": product}
    long_partner = {**sample_lead["servicePartner"], "id": str(uuid.uuid4()), "name": partner}
    business = "Twin Cities Artisanal Sourdough Bakery and Community Coffee Roasters LLC"
    lead_ids = [
        add_lead(nameOfBusiness=business, firstName="Maximiliana", lastName="Vandenberghe-Oyelaran",
                 requestedAmount=1250000.0, fraudScore=0.93, matchedProduct=long_product,
                 servicePartner=long_partner),
        add_lead(nameOfBusiness="Great Lakes Precision Machining, Fabrication & Supply Co-op",
                 requestedAmount=75000.0, fraudScore=0.3, status="Reviewed",
                 matchedProduct=long_product),
        add_lead(status="Disqualified"),
    ]
    officer = django_user_model.objects.create_user("christopherson", "chris@lender.example", "x")
    services.assign(Lead.objects.filter(pk__in=lead_ids[:2]), officer)
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

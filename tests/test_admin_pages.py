"""Every admin page a loan officer or a lending manager can open: no form nested in a form, and
a page they may not open is the admin's own 403 page.

A browser ignores a `<form>` inside another and submits the outer one, which the test client
never notices; so the pages are parsed here as a browser's parser would see their tags.
"""

import json
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from alerts import services as alert_services
from alerts.models import Alert, CRSUser, Notification, NotificationRule
from leadcrm import errors
from leadcrm.roles import LENDING_MANAGER, LOAN_OFFICER
from leads.models import ExportLog, LeadDelivery, LeadNote, PulledBlob, PullRun

pytestmark = pytest.mark.django_db

FORBIDDEN_SENTENCE = "You do not have permission to open this page"


class FormNesting(HTMLParser):
    """Collects the `<form>` tags that open while another form is still open."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.nested: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "form":
            if self.depth:
                self.nested.append(dict(attrs))
            self.depth += 1

    def handle_endtag(self, tag):
        if tag == "form" and self.depth:
            self.depth -= 1


def nested_forms(html: str) -> list[dict]:
    parser = FormNesting()
    parser.feed(html)
    parser.close()
    return parser.nested


@pytest.fixture
def every_kind_of_row(add_lead, sample_batch, django_user_model):
    """At least one row of each model the admin shows, so that each has a page to open."""
    lead_id = add_lead()
    alert_services.receive_alerts(json.dumps(sample_batch).encode())
    person = CRSUser.objects.first()
    person.lead_id = lead_id
    person.save()
    rule = NotificationRule.objects.create(alert_type="ACCALERT", addresses="desk@lender.example")
    author = django_user_model.objects.create_user("author")
    LeadNote.objects.create(lead_id=lead_id, author=author, text="Called")
    ExportLog.objects.create(user=author, source=ExportLog.Source.LIST, rows=1)
    PullRun.objects.create(source="azure-queue", target="account/queue")
    PulledBlob.objects.create(container="account/container", name="leads.json", etag="0x1")
    Notification.objects.create(
        alert=Alert.objects.first(),
        rule=rule,
        recipient="desk@lender.example",
        subject="Alert",
        body="Body",
    )
    return lead_id


@pytest.fixture
def login(client, django_user_model):
    def as_role(role: str):
        user = django_user_model.objects.create_user(role.split()[-1], is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return user

    return as_role


def first_row_page(model, page: str = "change") -> str | None:
    first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}"
    return None if first is None else reverse(name, args=[first])


def admin_urls() -> list[str]:
    """The index, the dashboard, the password form, each app's page, and each model's list, add
    page, and its first row's change, history and delete pages."""
    urls = [reverse("admin:index"), reverse("admin-dashboard"), reverse("admin:password_change")]
    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{name}_changelist"), reverse(f"{name}_add")]
        row_pages = [first_row_page(model, page) for page in ["change", "history", "delete"]]
        urls += [url for url in row_pages if url]
    apps = {model._meta.app_label for model in admin.site._registry}
    return urls + [reverse("admin:app_list", args=[app]) for app in sorted(apps)]


def allowed_statuses(url: str) -> tuple[int, ...]:
    # An app's page is "not found" to who may see none of its models, as in stock Django.
    app_pages = {reverse("admin:app_list", args=[m._meta.app_label]) for m in admin.site._registry}
    return (200, 404) if url in app_pages else (200, 403)


@pytest.mark.parametrize("role", [LOAN_OFFICER, LENDING_MANAGER])
def test_no_admin_page_a_role_can_open_nests_a_form_in_a_form(
    client, login, every_kind_of_row, role
):
    login(role)
    opened = set()
    for url in admin_urls():
        response = client.get(url)
        assert response.status_code in allowed_statuses(url), url
        assert nested_forms(response.text) == [], url  # an error page is a page too
        if response.status_code == 200:
            opened.add(url)
    always = {
        reverse("admin:index"),
        reverse("admin-dashboard"),
        first_row_page(CRSUser),
        reverse("admin:leads_lead_change", args=[every_kind_of_row]),
    }
    assert always <= opened
    if role == LENDING_MANAGER:
        managers = {
            first_row_page(LeadDelivery),
            first_row_page(NotificationRule),
            reverse("admin:alerts_notificationrule_add"),
        }
        assert managers <= opened


def test_the_lead_page_keeps_the_note_form_out_of_the_change_form(client, login, add_lead):
    lead_id = add_lead()
    login(LOAN_OFFICER)
    page = client.get(reverse("admin:leads_lead_change", args=[lead_id])).text

    note_url = reverse("admin:leads_lead_note", args=[lead_id])
    note_form = page.split(f'<form id="note-form" method="post" action="{note_url}">')[1]
    note_form = note_form.split("</form>")[0]
    assert 'name="text"' in note_form and 'value="Add note"' in note_form
    assert page.index(note_url) < page.index('id="lead_form"')  # before Django's form, not in it


# --- The admin's 403 page --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:leads_leaddelivery_changelist"),
        reverse("admin:alerts_notificationrule_changelist"),
        reverse("admin:alerts_notificationrule_add"),
        reverse("admin:leads_exportlog_changelist"),
    ],
)
def test_an_officer_opening_a_page_they_may_not_see_gets_the_admins_403_page(client, login, url):
    login(LOAN_OFFICER)

    response = client.get(url)

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    page = response.text
    assert 'id="header"' in page and 'id="nav-sidebar"' in page
    assert f'<a href="{reverse("admin:index")}">Home</a>' in page
    assert FORBIDDEN_SENTENCE in page and "administrator" in page
    assert "Log out" in page  # the admin's user tools, as on every other page


def test_the_403_page_shows_nothing_of_the_forbidden_delivery(client, login, add_lead):
    delivery = LeadDelivery.objects.get(lead_id=add_lead(nameOfBusiness="Quiet Bakery"))
    login(LOAN_OFFICER)

    response = client.get(reverse("admin:leads_leaddelivery_change", args=[delivery.pk]))

    assert response.status_code == 403
    assert FORBIDDEN_SENTENCE in response.text
    assert "Quiet Bakery" not in response.text and delivery.body_sha256 not in response.text
    assert "Lead deliveries" not in response.text  # nor a link to them in the navigation


def test_a_refused_action_on_an_admin_page_gets_the_admins_403_page(client, login, add_lead):
    lead_id = add_lead()
    login(LOAN_OFFICER)

    response = client.post(reverse("admin:leads_lead_change", args=[lead_id]), {})

    assert response.status_code == 403 and FORBIDDEN_SENTENCE in response.text


@pytest.mark.parametrize("path", ["/webhooks/crf/leads/", "/api/leads/", "/healthz/"])
def test_json_paths_keep_their_json_403(path):
    request = RequestFactory().get(path)

    response = errors.permission_denied(request, PermissionDenied())

    assert response.status_code == 403
    assert json.loads(response.content) == {"error": "forbidden", "detail": "You may not do this."}


def test_other_paths_keep_djangos_plain_403(rf):
    response = errors.permission_denied(rf.get("/elsewhere/"), PermissionDenied())
    assert response.status_code == 403 and b"403 Forbidden" in response.content


@pytest.mark.parametrize("user", ["none", "anonymous", "not staff"])
def test_who_is_not_staff_gets_the_plain_403_on_admin_paths_too(rf, django_user_model, user):
    request = rf.get(reverse("admin:leads_leaddelivery_changelist"))
    if user == "anonymous":
        request.user = AnonymousUser()
    elif user == "not staff":
        request.user = django_user_model.objects.create_user("customer")

    response = errors.permission_denied(request, PermissionDenied())

    assert response.status_code == 403 and b"403 Forbidden" in response.content
    assert b"nav-sidebar" not in response.content

"""The alerts in the workspace: labels, filters, search, read-only, raw batches for managers only."""

import json
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from alerts import services
from alerts.models import Alert, AlertDelivery, CRSUser

pytestmark = pytest.mark.django_db

ALERTS = reverse("admin:alerts_alert_changelist")


@pytest.fixture
def batch(sample_batch):
    services.receive_alerts(json.dumps(sample_batch + [{"id": str(uuid.uuid4()), "type": "IDTHEFT"}]).encode())
    return sample_batch


def listed(response) -> set[str]:
    return {str(alert.pk) for alert in response.context["cl"].result_list}


def test_the_list_labels_types_with_the_seeds_descriptions(admin_client, batch):
    page = admin_client.get(ALERTS).text

    assert "Account alert (credit)" in page and "Account registration failed" in page
    assert "IDTHEFT" in page  # a type CRS added later, as sent


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=ACCALERT", [0]),
        ("type=IDTHEFT", ["IDTHEFT"]),
        ("has_error=yes", [2]),
        ("alert_source=Equifax", [0]),
    ],
)
def test_each_filter_keeps_the_right_alerts(admin_client, batch, query, expected):
    ids = {str(batch[i]["id"]) if isinstance(i, int) else str(Alert.objects.get(type=i).pk) for i in expected}
    assert listed(admin_client.get(f"{ALERTS}?{query}")) == ids


def test_the_date_and_host_filters(admin_client, batch):
    Alert.objects.filter(pk=batch[0]["id"]).update(time=timezone.now())  # today at any hour
    assert listed(admin_client.get(f"{ALERTS}?time__gte={timezone.now().date()}")) == {batch[0]["id"]}
    host = batch[0]["host_id"]
    assert len(listed(admin_client.get(f"{ALERTS}?host_id={host}"))) == 4


@pytest.mark.parametrize("field", ["hook id", "user id", "alert id", "user email"])
def test_search_finds_by_user_alert_id_and_hook_id(admin_client, batch, field):
    CRSUser.objects.filter(pk=batch[2]["user_id"]).update(email="pat@example.com")
    term, expected = {
        "hook id": (batch[1]["id"], {batch[1]["id"]}),
        "user id": (batch[2]["user_id"], {batch[2]["id"], batch[3]["id"]}),
        "alert id": (batch[0]["alert_id"], {batch[0]["id"]}),
        "user email": ("pat@example", {batch[2]["id"], batch[3]["id"]}),
    }[field]
    assert listed(admin_client.get(ALERTS, {"q": term})) == expected


def test_alerts_are_read_only(admin_client, batch):
    change = reverse("admin:alerts_alert_change", args=[batch[0]["id"]])
    assert admin_client.post(change, {"type": "ERROR"}).status_code == 403
    assert admin_client.get(reverse("admin:alerts_alert_add")).status_code == 403
    assert Alert.objects.get(pk=batch[0]["id"]).type == "ACCALERT"


def test_raw_batches_need_their_own_permission(client, django_user_model, batch):
    officer = django_user_model.objects.create_user("officer", password="x", is_staff=True)
    officer.user_permissions.add(Permission.objects.get(codename="view_alert"))
    client.force_login(officer)

    assert client.get(ALERTS).status_code == 200
    assert client.get(reverse("admin:alerts_alertdelivery_changelist")).status_code == 403
    delivery = AlertDelivery.objects.get()
    assert client.get(reverse("admin:alerts_alertdelivery_change", args=[delivery.pk])).status_code == 403


def test_a_manager_sees_the_raw_batch_pretty_and_escaped(admin_client, sample_batch):
    services.receive_alerts(json.dumps([{**sample_batch[0], "alert_source": "<b>x</b>"}]).encode())
    delivery = AlertDelivery.objects.get()

    page = admin_client.get(reverse("admin:alerts_alertdelivery_change", args=[delivery.pk])).text

    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_staff_link_a_crs_user_to_a_lead_and_the_lead_page_lists_their_alerts(admin_client, batch, sample_lead):
    from leads import services as lead_services

    lead_id = lead_services.receive_lead(json.dumps(sample_lead).encode()).delivery.lead_id
    lead_services.process_lead(lead_id)
    user_change = reverse("admin:alerts_crsuser_change", args=[batch[0]["user_id"]])
    response = admin_client.post(user_change, {"name": "Bob", "email": "bob@somecompany.com", "lead": str(lead_id)})
    assert response.status_code == 302

    page = admin_client.get(reverse("admin:leads_lead_change", args=[lead_id])).text
    assert "Account alert (credit)" in page and "Score refreshed" in page and "from Equifax" in page

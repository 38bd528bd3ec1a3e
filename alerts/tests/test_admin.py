"""The alerts in the workspace: labels, filters, search, read-only, raw batches for managers only,
and notification rules whose templates are checked when a manager saves them."""

import json
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from alerts import services
from alerts.models import Alert, AlertDelivery, CRSUser, Notification, NotificationRule

pytestmark = pytest.mark.django_db

ALERTS = reverse("admin:alerts_alert_changelist")


@pytest.fixture
def batch(sample_batch):
    services.receive_alerts(
        json.dumps(sample_batch + [{"id": str(uuid.uuid4()), "type": "IDTHEFT"}]).encode()
    )
    return sample_batch


def listed(response) -> set[str]:
    return {str(alert.pk) for alert in response.context["cl"].result_list}


def test_the_list_labels_types_with_their_documented_descriptions(admin_client, batch):
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
    ids = {
        str(batch[i]["id"]) if isinstance(i, int) else str(Alert.objects.get(type=i).pk)
        for i in expected
    }
    assert listed(admin_client.get(f"{ALERTS}?{query}")) == ids


def test_the_date_and_host_filters(admin_client, batch):
    Alert.objects.filter(pk=batch[0]["id"]).update(time=timezone.now())  # today at any hour
    assert listed(admin_client.get(f"{ALERTS}?time__gte={timezone.now().date()}")) == {
        batch[0]["id"]
    }
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


def test_the_alert_page_lists_its_problems_with_their_codes(
    admin_client, post_alerts, sample_batch
):
    post_alerts([{**sample_batch[0], "time": "soon", "alert_id": "<b>" * 100}])

    page = admin_client.get(reverse("admin:alerts_alert_change", args=[sample_batch[0]["id"]])).text

    assert "<li><b>time</b>: expected epoch seconds, got &#x27;soon&#x27; (wrong_type)</li>" in page
    assert "<li><b>alert_id</b>: longer than 255 characters (too_long)</li>" in page


def test_problems_stored_before_they_had_a_code_are_listed_without_one(admin_client, batch):
    Alert.objects.filter(pk=batch[0]["id"]).update(
        problems=[{"field": "time", "detail": "expected epoch seconds, got '<soon>'"}]
    )

    page = admin_client.get(reverse("admin:alerts_alert_change", args=[batch[0]["id"]])).text

    assert "<li><b>time</b>: expected epoch seconds, got &#x27;&lt;soon&gt;&#x27;</li>" in page


def test_raw_batches_need_their_own_permission(client, django_user_model, batch):
    officer = django_user_model.objects.create_user("officer", password="x", is_staff=True)
    officer.user_permissions.add(Permission.objects.get(codename="view_alert"))
    client.force_login(officer)

    assert client.get(ALERTS).status_code == 200
    assert client.get(reverse("admin:alerts_alertdelivery_changelist")).status_code == 403
    delivery = AlertDelivery.objects.get()
    assert (
        client.get(reverse("admin:alerts_alertdelivery_change", args=[delivery.pk])).status_code
        == 403
    )


def test_a_manager_sees_the_raw_batch_pretty_and_escaped(admin_client, sample_batch):
    services.receive_alerts(json.dumps([{**sample_batch[0], "alert_source": "<b>x</b>"}]).encode())
    delivery = AlertDelivery.objects.get()

    page = admin_client.get(reverse("admin:alerts_alertdelivery_change", args=[delivery.pk])).text

    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_staff_link_a_crs_user_to_a_lead_and_the_lead_page_lists_their_alerts(
    admin_client, batch, sample_lead
):
    from leads.intake import services as lead_services

    lead_id = lead_services.receive_lead(json.dumps(sample_lead).encode()).delivery.lead_id
    lead_services.process_lead(lead_id)
    user_change = reverse("admin:alerts_crsuser_change", args=[batch[0]["user_id"]])
    response = admin_client.post(
        user_change, {"name": "Bob", "email": "bob@somecompany.com", "lead": str(lead_id)}
    )
    assert response.status_code == 302

    page = admin_client.get(reverse("admin:leads_lead_change", args=[lead_id])).text
    assert "Account alert (credit)" in page and "Score refreshed" in page and "from Equifax" in page


# --- Notification rules: a template is checked when it is saved ---------------------------------

RULE_ADD = reverse("admin:alerts_notificationrule_add")


def rule_form(**fields) -> dict:
    return {
        "alert_type": "ACCALERT",
        "active": "on",
        "notify_assigned_officer": "on",
        "addresses": "",
        "subject_template": "Credit alert: {{ type_label }}",
        "body_template": "{{ user }}",
        **fields,
    }


def form_errors(response) -> dict:
    assert response.status_code == 200, "the form was accepted"
    return response.context["adminform"].form.errors


@pytest.mark.parametrize(
    "expression",
    [
        "lead.assigned_officer.password",
        "lead.ownership_demographic_types",
        "alert.delivery.body",
        "user.lead.assigned_officer.email",
    ],
)
def test_a_manager_is_refused_a_template_naming_what_rules_cannot_see(manager_client, expression):
    response = manager_client.post(RULE_ADD, rule_form(body_template=f"Hi {{{{ {expression} }}}}"))

    [error] = form_errors(response)["body_template"]
    assert error.startswith(f"Notification templates cannot use {expression}. Available: alert, ")
    assert "lead.name_of_business" in error and "user.email" in error
    assert not NotificationRule.objects.filter(body_template__contains=expression).exists()


def test_the_subject_is_checked_too_when_a_rule_is_changed(manager_client):
    rule = NotificationRule.objects.get(alert_type="ACCALERT")
    change = reverse("admin:alerts_notificationrule_change", args=[rule.pk])

    form = rule_form(subject_template="{{ lead.assigned_officer }}")

    response = manager_client.post(change, form)

    assert "cannot use lead.assigned_officer." in form_errors(response)["subject_template"][0]
    rule.refresh_from_db()
    assert rule.subject_template == "Credit alert: {{ type_label }}"


SYNTAX = "Template syntax error:"
NOT_ALLOWED = "tag is not allowed in notification templates."


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("{% if %}yes{% endif %}", f"{SYNTAX} Unexpected end of expression in if tag."),
        ("{{ user|nosuchfilter }}", f"{SYNTAX} Invalid filter: 'nosuchfilter'"),
        (
            "{% if user %}open",
            f"{SYNTAX} Unclosed tag on line 1: 'if'. Looking for one of: elif, else, endif.",
        ),
        ("{% debug %}", f"The {{% debug %}} {NOT_ALLOWED}"),
        ("{% include 'admin/base.html' %}", f"The {{% include %}} {NOT_ALLOWED}"),
        ("{% extends 'admin/base.html' %}", f"The {{% extends %}} {NOT_ALLOWED}"),
        ("{% load static %}", f"The {{% load %}} {NOT_ALLOWED}"),
    ],
)
def test_a_template_that_would_not_render_is_a_form_error(manager_client, template, error):
    response = manager_client.post(RULE_ADD, rule_form(body_template=template))

    assert form_errors(response)["body_template"] == [error]


@pytest.mark.parametrize("depth", [300, 2000])
def test_a_template_nested_too_deep_is_a_form_error_not_a_server_error(manager_client, depth):
    body = "{% if user %}" * depth + "deep" + "{% endif %}" * depth

    response = manager_client.post(RULE_ADD, rule_form(body_template=body))

    assert "maximum recursion depth exceeded" in form_errors(response)["body_template"][0]


def test_a_template_that_fails_for_an_alert_without_a_person_is_a_form_error(manager_client):
    # CRS sends alerts for users nobody linked: `lead` is then None, and a lookup in a filter's
    # argument raises instead of rendering empty.
    body = "{{ alert.error_msg|default:lead.first_name }}"

    response = manager_client.post(RULE_ADD, rule_form(body_template=body))

    [error] = form_errors(response)["body_template"]
    assert error.startswith("This template fails for an alert with no CRS user, lead or dates:")


def test_a_manager_saves_a_rule_using_the_names_and_tags_templates_have(manager_client):
    body = (
        "{% for word in lead.name_of_business.split %}{{ forloop.counter }}:{{ word|upper }} "
        "{% endfor %}{% with day=alert.time|date:'Y-m-d' %}{{ day }}{% endwith %} "
        "{% filter lower %}{{ user.email|default:'-' }}{% endfilter %}"
    )

    response = manager_client.post(RULE_ADD, rule_form(body_template=body, alert_type="IDFAIL"))

    assert response.status_code == 302
    assert NotificationRule.objects.filter(alert_type="IDFAIL", body_template=body).exists()


def test_the_rule_form_lists_the_names_templates_may_use(manager_client):
    page = manager_client.get(RULE_ADD).text

    assert "The names: alert, alert.id, alert.type" in page and "lead.status, type_label." in page


def test_template_errors_are_listed_and_filtered_in_the_notification_admin(
    manager_client, linked_person
):
    NotificationRule.objects.filter(alert_type="ACCALERT").update(
        body_template="{{ alert.error_code|divisibleby:2 }}"
    )
    item = {
        "id": str(uuid.uuid4()),
        "type": "ACCALERT",
        "user_id": str(linked_person.id),
        "error_code": "REG-104",
    }
    services.receive_alerts(json.dumps([item]).encode())
    services.notify([item["id"]])
    Notification.objects.create(alert_id=item["id"], recipient="x@example.com", subject="", body="")
    notifications = reverse("admin:alerts_notification_changelist")

    response = manager_client.get(notifications, {"status__exact": "template_error"})

    listed = {n.recipient for n in response.context["cl"].result_list}
    assert listed == {"bob@somecompany.com", "officer@lender.example"}
    assert "Template error" in response.text
    assert "ValueError: invalid literal for int()" in response.text

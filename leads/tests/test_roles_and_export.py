"""Roles from the data migration, the admin CSV export and its audit, assignment and notes."""

import csv
import io
import json
import uuid

import pytest
from django.urls import reverse

from leads.intake import services
from leads.models import ExportLog, Lead, LeadDelivery, LeadNote

pytestmark = pytest.mark.django_db

LEADS = reverse("admin:leads_lead_changelist")
EXPORT = reverse("admin:leads_lead_export")


def rows(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_export_of_the_list_is_exactly_the_filtered_and_searched_list(client, login, add_lead):
    login("Loan officer")
    wanted = {
        add_lead(status="Funded", nameOfBusiness="Acme Tools"),
        add_lead(status="Funded", nameOfBusiness="Acme Bakes"),
    }
    add_lead(status="Funded", nameOfBusiness="Other")
    add_lead(status="Matched", nameOfBusiness="Acme Matched")
    params = {"status__exact": "Funded", "q": "acme"}

    seen = {str(lead.pk) for lead in client.get(LEADS, params).context["cl"].result_list}
    exported = rows(client.get(EXPORT, params))

    assert seen == wanted == {row["id"] for row in exported}
    assert all(row["requestedAmount"] == "25000.00" for row in exported)
    log = ExportLog.objects.get()
    assert (log.user.username, log.source, log.rows, log.filters) == ("officer", "list", 2, params)
    assert log.with_demographics is False


def test_the_selected_leads_action_exports_those(client, login, add_lead):
    login("Loan officer")
    chosen = [add_lead(), add_lead()]
    add_lead()

    response = client.post(LEADS, {"action": "export_selected", "_selected_action": chosen})

    assert {row["id"] for row in rows(response)} == set(chosen)
    assert ExportLog.objects.get().source == "selected"


def test_demographics_are_exported_only_for_managers(client, login, add_lead):
    add_lead(ownershipDemographicTypes=["Veteran", "Women"])
    login("Loan officer")
    assert "ownershipDemographicTypes" not in rows(client.get(EXPORT))[0]
    client.logout()
    login("Lending manager")
    assert rows(client.get(EXPORT))[0]["ownershipDemographicTypes"] == "Veteran; Women"
    assert list(
        ExportLog.objects.order_by("started_at").values_list("with_demographics", flat=True)
    ) == [False, True]


def test_exporting_needs_its_own_permission(client, django_user_model, add_lead):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_lead"))
    client.force_login(user)
    add_lead()

    assert client.get(EXPORT).status_code == 403
    assert "export-all" not in client.get(LEADS).text
    assert not ExportLog.objects.exists()


def test_loan_officers_cannot_delete_see_deliveries_or_the_export_log(client, login, add_lead):
    lead_id = add_lead()
    login("Loan officer")

    assert client.get(LEADS).status_code == 200
    assert client.get(reverse("admin:leads_lead_delete", args=[lead_id])).status_code == 403
    assert client.get(reverse("admin:leads_leaddelivery_changelist")).status_code == 403
    delivery = LeadDelivery.objects.get()
    assert (
        client.get(reverse("admin:leads_leaddelivery_change", args=[delivery.pk])).status_code
        == 403
    )
    assert client.get(reverse("admin:leads_exportlog_changelist")).status_code == 403
    page = client.get(reverse("admin:leads_lead_change", args=[lead_id])).text
    assert "Every delivery of this lead" not in page
    assert (
        reverse("admin:leads_leaddelivery_change", args=[delivery.pk]) not in page
    )  # nor in the history
    assert client.get(reverse("admin:alerts_alert_changelist")).status_code == 200
    assert client.get(reverse("admin:alerts_alertdelivery_changelist")).status_code == 403


def test_lending_managers_see_deliveries_demographics_and_the_export_log(client, login, add_lead):
    lead_id = add_lead(ownershipDemographicTypes=["Veteran"])
    login("Lending manager")

    assert client.get(reverse("admin:leads_leaddelivery_changelist")).status_code == 200
    assert client.get(reverse("admin:leads_exportlog_changelist")).status_code == 200
    assert "Veteran" in client.get(reverse("admin:leads_lead_change", args=[lead_id])).text
    assert client.get(reverse("admin:leads_lead_delete", args=[lead_id])).status_code == 403


def test_officers_assign_leads_and_a_lead_update_never_undoes_it(
    client, login, add_lead, sample_lead
):
    officer = login("Loan officer")
    lead_id = add_lead()
    client.post(LEADS, {"action": "take_selected", "_selected_action": [lead_id]})
    assert Lead.objects.get(pk=lead_id).assigned_officer == officer

    services.receive_lead(json.dumps({**sample_lead, "id": lead_id, "status": "Reviewed"}).encode())
    services.process_lead(uuid.UUID(lead_id))

    lead = Lead.objects.get(pk=lead_id)
    assert (lead.status, lead.assigned_officer) == ("Reviewed", officer)
    assert "officer" in client.get(LEADS).text


def test_officers_write_notes_shown_with_author_and_time(client, login, add_lead):
    officer = login("Loan officer")
    lead_id = add_lead()

    response = client.post(
        reverse("admin:leads_lead_note", args=[lead_id]), {"text": "Called, <b>left</b> a message"}
    )

    assert response.status_code == 302
    note = LeadNote.objects.get()
    assert (note.author, note.text) == (officer, "Called, <b>left</b> a message")
    page = client.get(reverse("admin:leads_lead_change", args=[lead_id])).text
    assert (
        "Called, &lt;b&gt;left&lt;/b&gt; a message" in page
        and f"{note.created_at:%Y-%m-%d}" in page
    )


def test_an_empty_note_is_refused(client, login, add_lead):
    login("Loan officer")
    lead_id = add_lead()
    client.post(reverse("admin:leads_lead_note", args=[lead_id]), {"text": "   "})
    assert not LeadNote.objects.exists()


def test_the_lead_page_lists_possible_duplicates_with_their_status(admin_client, add_lead):
    first = add_lead(duplicateId="same-hash", status="Withdrawn", nameOfBusiness="First Try LLC")
    second = add_lead(duplicateId="same-hash")
    add_lead(duplicateId="other-hash", nameOfBusiness="Unrelated LLC")

    page = admin_client.get(reverse("admin:leads_lead_change", args=[second])).text

    assert "First Try LLC" in page and "Withdrawn" in page and "Unrelated LLC" not in page
    assert reverse("admin:leads_lead_change", args=[first]) in page

"""Alerts joined to leads in the workspace: the alert list links to the lead, a CRS user's page
lists their alerts, linking a CRS user to a lead suggests leads by email and then by name, staff
mark alerts handled (who, when, a note), and the "on my leads" and "handled" filters."""

import json
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from alerts import services
from alerts.models import Alert, CRSUser
from leads.models import Lead

pytestmark = pytest.mark.django_db

ALERTS = reverse("admin:alerts_alert_changelist")
OFFICER, MANAGER = "Loan officer", "Lending manager"


@pytest.fixture
def batch(sample_batch):
    """The sample batch stored: two alerts for one person, two for another."""
    services.receive_alerts(json.dumps(sample_batch).encode())
    return sample_batch


def alert_page(alert_id) -> str:
    return reverse("admin:alerts_alert_change", args=[alert_id])


def person_page(person_id) -> str:
    return reverse("admin:alerts_crsuser_change", args=[person_id])


def listed(response) -> set[str]:
    assert response.status_code == 200
    return {str(alert.pk) for alert in response.context["cl"].result_list}


def link(person_id, lead_id) -> None:
    CRSUser.objects.filter(pk=person_id).update(lead_id=lead_id)


# --- The alert list and the CRS user's page link to each other and to the lead ----------------


def test_the_alert_list_links_each_alert_to_its_persons_lead_and_page(
    client, login, batch, add_lead
):
    lead_id = add_lead(nameOfBusiness="Linked Bakery")
    link(batch[0]["user_id"], lead_id)
    login(OFFICER)

    page = client.get(ALERTS).text

    lead_url = reverse("admin:leads_lead_change", args=[lead_id])
    assert page.count(f'<a href="{lead_url}"><span class="clipped" title="Linked Bakery">') == 2
    assert page.count(f'<a href="{person_page(batch[2]["user_id"])}">') == 2  # not linked: no lead


def test_a_crs_users_page_lists_their_alerts_newest_first_with_links(client, login, batch):
    login(OFFICER)

    page = client.get(person_page(batch[0]["user_id"])).text

    newer, older = alert_page(batch[1]["id"]), alert_page(batch[0]["id"])
    assert f'<a href="{newer}">' in page and f'<a href="{older}">' in page
    assert page.index(newer) < page.index(older)
    assert "Account alert (credit)</a> from Equifax" in page
    assert alert_page(batch[2]["id"]) not in page  # another person's
    every = f"{ALERTS}?user__id__exact={batch[0]['user_id']}"
    assert f'href="{every}"' in page
    assert listed(client.get(every)) == {batch[0]["id"], batch[1]["id"]}


def test_a_crs_user_without_alerts_says_none(client, login):
    person = CRSUser.objects.create(id=uuid.uuid4(), name="Quiet Person")
    login(OFFICER)

    page = client.get(person_page(person.pk))

    assert page.status_code == 200
    assert "Every alert of this person" not in page.text


# --- Linking a CRS user to a lead: suggestions, then search ------------------------------------


def choices(client, person_id, **params) -> dict:
    response = client.get(reverse("admin:alerts_crsuser_leads", args=[person_id]), params)
    assert response.status_code == 200
    return response.json()


def test_the_lead_field_offers_leads_with_the_same_email_then_the_same_name(
    client, login, add_lead
):
    by_email = add_lead(email="BOB@somecompany.com", firstName="Robert", lastName="Other")
    by_name = add_lead(email="bob.l@elsewhere.example", firstName="bob", lastName="LASTNAMESON")
    add_lead(email="bob@elsewhere.example", firstName="Bob", lastName="Smith")
    add_lead(email="x@example.com", firstName="Bobby", lastName="Lastnamesons")
    person = CRSUser.objects.create(
        id=uuid.uuid4(), name="Lastnameson, Bob", email="bob@somecompany.com"
    )
    login(MANAGER)

    found = choices(client, person.pk)

    assert [group["text"] for group in found["results"]] == ["Same email address", "Same name"]
    assert [c["id"] for c in found["results"][0]["children"]] == [by_email]
    assert [c["id"] for c in found["results"][1]["children"]] == [by_name]
    assert "BOB@somecompany.com" in found["results"][0]["children"][0]["text"]


def test_a_lead_found_by_email_is_not_suggested_again_by_name(client, login, add_lead):
    lead = add_lead(email="bob@somecompany.com", firstName="Bob", lastName="Lastnameson")
    person = CRSUser.objects.create(
        id=uuid.uuid4(), name="Bob Lastnameson", email="bob@somecompany.com"
    )
    login(MANAGER)

    [group] = choices(client, person.pk)["results"]

    assert group["text"] == "Same email address"
    assert [c["id"] for c in group["children"]] == [lead]


def test_a_person_nothing_matches_is_told_to_type(client, login, add_lead):
    add_lead()
    person = CRSUser.objects.create(id=uuid.uuid4(), name="Bob", email="")  # one word: no match
    login(MANAGER)

    [hint] = choices(client, person.pk)["results"]

    assert hint["disabled"] is True and "type to search" in hint["text"]


def test_typing_searches_leads_as_the_lead_list_does_a_page_at_a_time(client, login, add_lead):
    for n in range(23):
        add_lead(nameOfBusiness=f"Corner Bakery {n}")
    wanted = add_lead(nameOfBusiness="Harbor Fish Market")
    person = CRSUser.objects.create(id=uuid.uuid4())
    login(MANAGER)

    assert [c["id"] for c in choices(client, person.pk, term="harbor fish")["results"]] == [wanted]
    first = choices(client, person.pk, term="bakery")
    second = choices(client, person.pk, term="bakery", page="2")
    assert len(first["results"]) == 20 and first["pagination"]["more"] is True
    assert len(second["results"]) == 3 and second["pagination"]["more"] is False


def test_the_search_reads_no_ownership_demographics(client, login, add_lead):
    add_lead(ownershipDemographicTypes=["Veteran"])
    person = CRSUser.objects.create(id=uuid.uuid4())
    login(MANAGER)

    assert choices(client, person.pk, term="Veteran")["results"] == []


def test_only_who_may_change_crs_users_gets_the_lead_choices(client, login):
    person = CRSUser.objects.create(id=uuid.uuid4(), name="Bob Lastnameson")
    login(OFFICER)

    url = reverse("admin:alerts_crsuser_leads", args=[person.pk])
    assert client.get(url).status_code == 403
    assert client.get(url, {"term": "bob"}).status_code == 403


def test_a_manager_links_a_person_to_a_suggested_lead_through_the_autocomplete(
    client, login, batch, add_lead
):
    lead_id = add_lead()
    login(MANAGER)
    page = client.get(person_page(batch[0]["user_id"])).text
    choices_url = reverse("admin:alerts_crsuser_leads", args=[batch[0]["user_id"]])
    assert f'data-ajax--url="{choices_url}"' in page and "admin-autocomplete" in page
    assert 'id="lookup_id_lead"' not in page  # no lead id to paste

    response = client.post(person_page(batch[0]["user_id"]), {"name": "", "lead": lead_id})

    assert response.status_code == 302
    assert str(CRSUser.objects.get(pk=batch[0]["user_id"]).lead_id) == lead_id
    page = client.get(person_page(batch[0]["user_id"])).text
    assert f'<option value="{lead_id}" selected>' in page


def test_an_officer_sees_the_link_but_cannot_change_it(client, login, batch, add_lead):
    lead_id = add_lead(nameOfBusiness="Linked Bakery")
    link(batch[0]["user_id"], lead_id)
    login(OFFICER)

    page = client.get(person_page(batch[0]["user_id"])).text
    response = client.post(person_page(batch[0]["user_id"]), {"lead": ""})

    assert reverse("admin:leads_lead_change", args=[lead_id]) in page
    assert response.status_code == 403
    assert str(CRSUser.objects.get(pk=batch[0]["user_id"]).lead_id) == lead_id


# --- Marking alerts handled ------------------------------------------------------------------


def test_an_officer_marks_an_alert_handled_with_a_note_on_its_page(client, login, batch):
    officer = login(OFFICER)
    page = client.get(alert_page(batch[0]["id"])).text
    handle = reverse("admin:alerts_alert_handle", args=[batch[0]["id"]])
    assert f'<form id="handle-form" method="post" action="{handle}">' in page

    response = client.post(handle, {"note": "  Called Bob: he opened the card himself.  "})

    assert response.status_code == 302 and response.url == alert_page(batch[0]["id"])
    alert = Alert.objects.get(pk=batch[0]["id"])
    assert alert.handled_by == officer and alert.handled_at is not None
    assert alert.handled_note == "Called Bob: he opened the card himself."
    page = client.get(alert_page(batch[0]["id"])).text
    assert "Marked the alert handled." in page
    assert "officer" in page and "Called Bob: he opened the card himself." in page
    assert 'id="handle-form"' not in page  # handled: nothing left to mark
    assert Alert.objects.filter(handled_at=None).count() == 3


def test_an_alert_handled_once_keeps_who_handled_it_first(client, login, batch, django_user_model):
    first = django_user_model.objects.create_user("first", is_superuser=True)
    services.mark_handled(Alert.objects.filter(pk=batch[0]["id"]), first, "Done.")
    login(OFFICER)

    response = client.post(
        reverse("admin:alerts_alert_handle", args=[batch[0]["id"]]),
        {"note": "Me too."},
        follow=True,
    )

    assert "Someone had marked this alert handled already." in response.text
    alert = Alert.objects.get(pk=batch[0]["id"])
    assert (alert.handled_by, alert.handled_note) == (first, "Done.")


def test_a_note_holding_a_nul_character_is_refused_with_a_message(client, login, batch):
    login(OFFICER)

    response = client.post(
        reverse("admin:alerts_alert_handle", args=[batch[0]["id"]]),
        {"note": "a\x00b"},
        follow=True,
    )

    assert "A note cannot contain a NUL character." in response.text
    assert Alert.objects.get(pk=batch[0]["id"]).handled_at is None


def test_staff_without_the_permission_cannot_mark_alerts_handled(client, django_user_model, batch):
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_alert"))
    client.force_login(viewer)

    page = client.get(alert_page(batch[0]["id"])).text
    response = client.post(reverse("admin:alerts_alert_handle", args=[batch[0]["id"]]))
    action = client.post(ALERTS, {"action": "mark_handled", "_selected_action": [batch[0]["id"]]})

    assert 'id="handle-form"' not in page
    assert response.status_code == 403
    assert action.status_code in (200, 302)  # the admin ignores an action it does not offer
    assert not Alert.objects.filter(handled_at__isnull=False).exists()
    with pytest.raises(services.NotAllowed):
        services.mark_handled(Alert.objects.all(), viewer)


def test_the_list_action_marks_the_selected_alerts_handled_and_counts_those_done_before(
    client, login, batch, django_user_model
):
    other = django_user_model.objects.create_user("other", is_superuser=True)
    services.mark_handled(Alert.objects.filter(pk=batch[1]["id"]), other)
    officer = login(OFFICER)

    response = client.post(
        ALERTS,
        {"action": "mark_handled", "_selected_action": [batch[0]["id"], batch[1]["id"]]},
        follow=True,
    )

    assert "Marked 1 alert handled. 1 was handled already." in response.text
    assert Alert.objects.get(pk=batch[0]["id"]).handled_by == officer
    assert Alert.objects.get(pk=batch[1]["id"]).handled_by == other


def test_the_handled_filter_and_column(client, login, batch, django_user_model):
    someone = django_user_model.objects.create_user("christopherson", is_superuser=True)
    services.mark_handled(Alert.objects.filter(pk=batch[0]["id"]), someone, "Spoke to Bob.")
    login(OFFICER)

    handled = client.get(ALERTS, {"handled": "yes"})
    waiting = client.get(ALERTS, {"handled": "no"})

    assert listed(handled) == {batch[0]["id"]}
    assert listed(waiting) == {batch[1]["id"], batch[2]["id"], batch[3]["id"]}
    assert "christopherson, " in handled.text and ": Spoke to Bob." in handled.text


# --- Alerts on my leads -----------------------------------------------------------------------


def test_alerts_on_my_leads_are_those_of_people_linked_to_leads_assigned_to_me(
    client, login, batch, add_lead, django_user_model
):
    officer = login(OFFICER)
    mine, theirs = add_lead(), add_lead()
    colleague = django_user_model.objects.create_user("colleague", is_staff=True)
    Lead.objects.filter(pk=mine).update(assigned_officer=officer)
    Lead.objects.filter(pk=theirs).update(assigned_officer=colleague)
    link(batch[0]["user_id"], mine)
    link(batch[2]["user_id"], theirs)

    assert listed(client.get(ALERTS, {"mine": "yes"})) == {batch[0]["id"], batch[1]["id"]}
    assert listed(client.get(ALERTS, {"mine": "yes", "handled": "no", "type": "SCOREREF"})) == {
        batch[1]["id"]
    }
    assert len(listed(client.get(ALERTS))) == 4


@pytest.mark.parametrize(
    "params",
    [
        {"user__lead__assigned_officer__id__exact": "1"},
        {"user__lead__assigned_officer": "1"},
        {"user__lead__ownership_demographic_types__icontains": "Veteran"},
        {"handled_by__password__startswith": "pbkdf2"},
    ],
)
def test_the_list_still_refuses_lookups_through_its_relations(client, login, batch, params):
    login(MANAGER)

    assert client.get(ALERTS, params).status_code == 400

"""The loan officers' lead list: every filter, id searches, colours, the demographics firewall."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead

pytestmark = pytest.mark.django_db

LEADS = reverse("admin:leads_lead_changelist")


def listed(client, **params) -> set[str]:
    response = client.get(LEADS, params)
    assert response.status_code == 200
    return {str(lead.pk) for lead in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("changes", "params"),
    [
        ({"status": "Funded"}, {"status__exact": "Funded"}),
        ({"state": "Removed"}, {"state__exact": "Removed"}),
        ({"businessAddress": {"state": "Iowa"}}, {"address_state": "Iowa"}),
        ({"industry": "Mining"}, {"industry__exact": "Mining"}),
        ({"ficoScore": "Below580"}, {"fico_score__exact": "Below580"}),
        ({"useOfProceeds": "Other"}, {"use_of_proceeds__exact": "Other"}),
        ({"yearsInBusiness": "Startup"}, {"years_in_business__exact": "Startup"}),
        ({"statistics": {"craEligibleTract": True}}, {"cra_eligible_tract__exact": "1"}),
        ({"statistics": {"isCDFIInvestmentArea": False}}, {"is_cdfi_investment_area__exact": "0"}),
        ({"requestedAmount": "lots"}, {"problems": "yes"}),
        ({"fraudScore": 0.9}, {"fraud": "withheld"}),
    ],
)
def test_each_field_filter_keeps_only_the_matching_leads(admin_client, add_lead, changes, params):
    wanted = add_lead(**changes)
    add_lead()
    assert listed(admin_client, **params) == {wanted}


@pytest.mark.parametrize("relation", ["leadSource", "servicePartner", "productSet"])
def test_partner_and_product_set_filters(admin_client, add_lead, sample_lead, relation):
    other = {**sample_lead[relation], "id": str(uuid.uuid4()), "name": "Another"}
    wanted = add_lead(**{relation: other})
    add_lead()
    field = {
        "leadSource": "lead_source",
        "servicePartner": "service_partner",
        "productSet": "product_set",
    }[relation]
    pk = getattr(Lead.objects.get(pk=wanted), f"{field}_id")
    assert listed(admin_client, **{f"{field}__id__exact": pk}) == {wanted}


def test_the_date_created_filter_takes_ranges(admin_client, add_lead):
    recent = add_lead(dateCreated=(timezone.now() - timedelta(days=2)).isoformat())
    add_lead()  # 2020
    since = (timezone.now() - timedelta(days=7)).date().isoformat()
    assert listed(admin_client, date_created__gte=since) == {recent}


@pytest.mark.parametrize("field", ["id", "submissionId", "duplicateId"])
def test_search_by_an_exact_crf_id(admin_client, add_lead, field):
    wanted = add_lead(submissionId=str(uuid.uuid4()), duplicateId="Zm9vYmFy/dup=")
    add_lead(duplicateId="other")
    term = {
        "id": wanted,
        "submissionId": Lead.objects.get(pk=wanted).submission_id,
        "duplicateId": "Zm9vYmFy/dup=",
    }[field]
    assert listed(admin_client, q=str(term)) == {wanted}


def test_a_whole_email_address_or_phone_number_finds_its_lead_exactly(admin_client, add_lead):
    wanted = add_lead(email="Ann.Lee@Bakery.example", phone="612-555-0199")
    add_lead(email="ann.lee@bakery.example.org", phone="1-612-555-0199")  # contains the same text
    assert listed(admin_client, q="ann.lee@bakery.example") == {wanted}  # any case
    assert listed(admin_client, q=" 612-555-0199 ") == {wanted}


def test_every_word_of_a_search_must_match_some_field(admin_client, add_lead):
    wanted = add_lead(firstName="Zelda", nameOfBusiness="Harbor Bakery LLC", phone="612-555-0199")
    add_lead(firstName="Zelda", nameOfBusiness="Other Co", phone="612-555-0111")
    assert listed(admin_client, q="zelda BAKERY 0199") == {wanted}
    assert listed(admin_client, q='"harbor bakery"') == {wanted}  # a quoted phrase, as in Django
    assert listed(admin_client, q="zelda nowhere") == set()


def test_search_by_phone_and_person(admin_client, add_lead):
    wanted = add_lead(phone="612-555-0199", firstName="Zelda")
    add_lead()
    assert listed(admin_client, q="555-0199") == {wanted}
    assert listed(admin_client, q="zelda") == {wanted}


def test_status_and_fraud_are_coloured(admin_client, add_lead):
    add_lead(status="Funded", fraudScore=0.9)
    page = admin_client.get(LEADS).text
    assert (
        'background:#16a34a;padding:1px 6px;border-radius:8px;white-space:nowrap">Funded<' in page
    )
    assert "background:#dc2626" in page and "0.9 (withheld)" in page


def officer(django_user_model):
    user = django_user_model.objects.create_user("officer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_lead"))
    return user


def test_loan_officers_never_see_ownership_demographics(client, django_user_model, add_lead):
    lead_id = add_lead(ownershipDemographicTypes=["Veteran", "Women"])
    client.force_login(officer(django_user_model))

    page = client.get(reverse("admin:leads_lead_change", args=[lead_id])).text
    assert "Veteran" not in page and "Ownership demographic types" not in page
    assert "Veteran" not in client.get(LEADS).text
    assert listed(client, q="Veteran") == set()


def test_whoever_may_see_demographics_sees_them_on_the_lead_page(admin_client, add_lead):
    lead_id = add_lead(ownershipDemographicTypes=["Veteran", "Women"])
    page = admin_client.get(reverse("admin:leads_lead_change", args=[lead_id])).text
    assert "Veteran, Women" in page


def test_the_business_state_filter_offers_the_states_there_are_leads_in(admin_client, add_lead):
    add_lead(businessAddress={"state": "Iowa"})
    add_lead(businessAddress={"state": "Alaska"})
    add_lead(businessAddress={"state": ""})

    spec = next(
        f for f in admin_client.get(LEADS).context["cl"].filter_specs if f.title == "business state"
    )
    assert [value for value, _ in spec.lookup_choices] == ["Alaska", "Iowa"]

"""`manage.py reconcile_crf_statuses`: each write-back CRF has not confirmed, read back from the
test CRF server, and a summary an operator can act on."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from leads.choices import Confirmation, WriteBack
from leads.dispositions import services
from leads.models import Disposition, Lead
from tests.crf_api import problem

# Transactions commit as in production, so each write-back is sent after its commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def officer():
    return get_user_model().objects.create_user("officer", is_staff=True)


@pytest.fixture
def sent(add_lead, officer, crf_api):
    """Record a disposition of a new lead; with the test CRF configured it is sent at commit."""

    def record(status: str = "Contacted", **body) -> Disposition:
        lead = Lead.objects.get(pk=add_lead())
        return services.record(lead, {"id": str(lead.pk), "status": status, **body}, officer)

    return record


def reconcile(*args) -> str:
    out = io.StringIO()
    call_command("reconcile_crf_statuses", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_write_back_crf_shows_is_confirmed_by_read_back(crf_api, sent):
    disposition = sent("Qualified")
    assert Disposition.objects.get(pk=disposition.pk).state == WriteBack.SENT

    out = reconcile()

    disposition.refresh_from_db()
    assert disposition.confirmed_by == Confirmation.READ_BACK
    assert disposition.crf_status == "Qualified" and disposition.checked_at is not None
    assert "Checked 1 write-backs with CRF." in out
    assert "Confirmed: 1." in out and "CRF shows something else: 0." in out
    assert services.to_reconcile().count() == 0
    assert reconcile().startswith("Checked 0 write-backs")  # confirmed ones are not read again


def test_a_status_crf_shows_differently_is_listed_with_ours_and_crfs(crf_api, sent):
    disposition = sent("Qualified")
    crf_api.statuses[str(disposition.lead_id)] = "Withdrawn"  # changed at CRF since

    out = reconcile()

    assert "CRF shows something else: 1." in out
    assert f"  {disposition.lead_id}: ours Qualified, CRF Withdrawn" in out
    disposition.refresh_from_db()
    assert disposition.confirmed_at is None and disposition.crf_status == "Withdrawn"


def test_a_lead_crf_does_not_know_is_listed_as_not_read_with_crfs_words(crf_api, sent):
    unknown = sent("Reviewed")
    known = sent("Contacted")
    crf_api.forget(unknown.lead_id)

    out = reconcile()

    assert "Confirmed: 1." in out
    assert "Could not be read: 1." in out
    assert f"  {unknown.lead_id}: CRF answered 404: Lead {unknown.lead_id} is not yours." in out
    unknown.refresh_from_db()
    assert unknown.confirmed_at is None and unknown.crf_status == ""
    assert Disposition.objects.get(pk=known.pk).confirmed_by == Confirmation.READ_BACK


def test_a_failed_write_back_crf_has_after_all_becomes_sent_and_confirmed(crf_api, sent):
    crf_api.script(problem(409, "Conflict", "The lead is being changed."))
    disposition = sent("Contacted")
    disposition.refresh_from_db()
    assert disposition.state == WriteBack.FAILED
    crf_api.statuses[str(disposition.lead_id)] = "Contacted"  # someone set it at CRF

    out = reconcile()

    disposition.refresh_from_db()
    assert "Confirmed: 1." in out
    assert disposition.state == WriteBack.SENT and disposition.error == ""


def test_when_no_lead_can_be_read_the_command_fails(crf_api, sent, settings):
    disposition = sent("Contacted")
    settings.CRF_API_KEY = "a-key-crf-does-not-know"

    with pytest.raises(CommandError, match="No lead could be read back"):
        reconcile()
    assert Disposition.objects.get(pk=disposition.pk).confirmed_at is None


def test_limit_reads_at_most_that_many_newest_first(crf_api, sent):
    older, newer = sent("Reviewed"), sent("Contacted")

    out = reconcile("--limit", "1")

    assert "Checked 1 write-backs" in out
    assert Disposition.objects.get(pk=newer.pk).confirmed_at is not None
    assert Disposition.objects.get(pk=older.pk).confirmed_at is None


def test_without_a_crf_key_it_says_so_and_exits_non_zero(settings, add_lead, officer):
    settings.CRF_API_KEY = ""
    lead = Lead.objects.get(pk=add_lead())
    services.record(lead, {"id": str(lead.pk), "status": "Reviewed"}, officer)

    with pytest.raises(CommandError, match="CRF_API_KEY is not set") as failure:
        reconcile()

    assert "nothing was checked" in str(failure.value)
    assert Disposition.objects.get().checked_at is None


def test_the_exit_status_is_1_without_a_key(settings):
    settings.CRF_API_KEY = ""
    from django.core.management import ManagementUtility

    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "reconcile_crf_statuses"]).execute()
    assert exited.value.code == 1

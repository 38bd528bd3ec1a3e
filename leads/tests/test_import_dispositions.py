"""`manage.py import_dispositions`: a loan-origination system's CSV, checked whole, then recorded
and written back to CRF (the test CRF server) as the lead page records them."""

import csv
import io
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError

from leads.choices import DispositionSource, WriteBack
from leads.models import Disposition, Lead

# Transactions commit as in production, so each write-back is sent after its commit.
pytestmark = pytest.mark.django_db(transaction=True)

HEADER = [
    "id",
    "status",
    "disqualifiedReason",
    "withdrawnReason",
    "additionalInfo",
    "fundedDate",
    "fundedAmount",
    "fundedInterestRate",
    "fundedAPR",
    "fundedTermMonths",
    "fundedAmortizationMonths",
    "willReceiveTechnicalAssistance",
    "technicalAssistanceOptions",
]


@pytest.fixture
def importer(django_user_model):
    user = django_user_model.objects.create_user("importer", "i@lender.example", "x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="add_disposition"))
    return user


@pytest.fixture
def leads(add_lead) -> list[str]:
    return [add_lead(nameOfBusiness=f"Business {n}") for n in range(3)]


def write_csv(tmp_path: Path, rows: list[dict], header=HEADER, *, bom=False, name="lo.csv") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    target = tmp_path / name
    target.write_text(("\ufeff" if bom else "") + out.getvalue(), encoding="utf-8")
    return str(target)


def run(path: str, *args, username="importer") -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_dispositions", path, "--as", username, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(path: str, *args, username="importer") -> tuple[str, str]:
    err = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command(
            "import_dispositions", path, "--as", username, *args, stdout=io.StringIO(), stderr=err
        )
    return str(failure.value), err.getvalue()


def good_rows(leads: list[str]) -> list[dict]:
    return [
        {"id": leads[0], "status": "Contacted"},
        {
            "id": leads[1],
            "status": "Funded",
            "fundedDate": "2026-11-30",
            "fundedAmount": "250000",
            "fundedInterestRate": "7.25",
            "fundedAPR": "7.5",
            "fundedTermMonths": "60",
            "willReceiveTechnicalAssistance": "yes",
            "technicalAssistanceOptions": "BusinessPlan; MarketingOrSales",
        },
        {
            "id": leads[2],
            "status": "Disqualified",
            "disqualifiedReason": "Other",
            "additionalInfo": "Moved out of our area",
        },
    ]


EXPECTED_FUNDED = {
    "status": "Funded",
    "fundedDate": "2026-11-30",
    "fundedAmount": 250000.0,
    "fundedInterestRate": 7.25,
    "fundedAPR": 7.5,
    "fundedTermMonths": 60,
    "willReceiveTechnicalAssistance": True,
    "technicalAssistanceOptions": ["BusinessPlan", "MarketingOrSales"],
}


def test_each_row_is_written_back_to_crf_once_in_the_files_order(
    tmp_path, crf_api, importer, leads
):
    path = write_csv(tmp_path, good_rows(leads))

    out, _ = run(path)

    assert "Recorded 3 dispositions as importer (0 already recorded, skipped)" in out
    assert crf_api.posted() == [
        {"id": leads[0], "status": "Contacted"},
        {"id": leads[1], **EXPECTED_FUNDED},
        {
            "id": leads[2],
            "status": "Disqualified",
            "disqualifiedReason": "Other",
            "additionalInfo": "Moved out of our area",
        },
    ]
    for lead_id, status in zip(leads, ["Contacted", "Funded", "Disqualified"], strict=True):
        lead = Lead.objects.select_related("disposition").get(pk=lead_id)
        assert lead.disposition.status == status
        assert lead.disposition.state == WriteBack.SENT
        assert lead.disposition.author == importer
        assert lead.disposition.source == DispositionSource.IMPORT
        assert crf_api.applied(lead_id) == [status]


def test_a_file_with_a_bom_and_leadid_for_id_and_pipes_between_options_is_read(
    tmp_path, crf_api, importer, leads
):
    rows = [
        {
            "leadId": leads[0],
            "status": "Qualified",
            "willReceiveTechnicalAssistance": "TRUE",
            "technicalAssistanceOptions": "BusinessPlan|MarketingOrSales",
        }
    ]
    path = write_csv(
        tmp_path,
        rows,
        ["leadId", "status", "willReceiveTechnicalAssistance", "technicalAssistanceOptions"],
        bom=True,
    )

    run(path)

    assert crf_api.posted() == [
        {
            "id": leads[0],
            "status": "Qualified",
            "willReceiveTechnicalAssistance": True,
            "technicalAssistanceOptions": ["BusinessPlan", "MarketingOrSales"],
        }
    ]


def test_without_a_crf_key_the_rows_are_recorded_here_only(tmp_path, settings, importer, leads):
    settings.CRF_API_KEY = ""
    path = write_csv(tmp_path, good_rows(leads))

    run(path)

    assert set(Disposition.objects.values_list("state", flat=True)) == {WriteBack.LOCAL}
    assert Disposition.objects.count() == 3


BAD_ROWS = [
    ({"id": "not-a-uuid", "status": "Contacted"}, "id", "not a CRF lead id"),
    ({"id": "{new}", "status": "Contacted"}, "id", "no lead with this id"),
    ({"id": "{0}", "status": "Matched"}, "status", "Select a valid choice"),
    ({"id": "{0}", "status": ""}, "status", "This field is required"),
    ({"id": "{0}", "status": "Funded", "fundedAmount": "1000"}, "fundedDate", "is required"),
    ({"id": "{0}", "status": "Contacted", "fundedAmount": "1000"}, "fundedAmount", "Funded only"),
    ({"id": "{0}", "status": "Disqualified"}, "disqualifiedReason", "Say why"),
    (
        {"id": "{0}", "status": "Withdrawn", "withdrawnReason": "Other"},
        "additionalInfo",
        "it is Other",
    ),
    (
        {"id": "{0}", "status": "Contacted", "willReceiveTechnicalAssistance": "maybe"},
        "willReceiveTechnicalAssistance",
        "not true or false",
    ),
    (
        {"id": "{0}", "status": "Contacted", "technicalAssistanceOptions": "Juggling"},
        "technicalAssistanceOptions",
        "Select a valid choice",
    ),
    (
        {
            "id": "{0}",
            "status": "Funded",
            "fundedDate": "30 Nov",
            "fundedAmount": "-5",
            "fundedInterestRate": "7",
            "fundedTermMonths": "60",
        },
        "fundedDate",
        "Enter a valid date",
    ),
]


@pytest.mark.parametrize(("row", "column", "reason"), BAD_ROWS, ids=[r[2] for r in BAD_ROWS])
def test_one_bad_row_is_reported_by_row_and_column_and_nothing_is_applied(
    tmp_path, crf_api, importer, leads, row, column, reason
):
    bad = {k: v.format(*leads, new=uuid.uuid4()) for k, v in row.items()}
    path = write_csv(tmp_path, [{"id": leads[1], "status": "Reviewed"}, bad])

    message, report = run_failing(path)

    assert "nothing was recorded" in message
    assert f"row 3, {column}: " in report and reason in report, report
    assert "row 2" not in report
    assert Disposition.objects.count() == 0
    assert crf_api.requests == []


def test_every_bad_row_is_reported_at_once(tmp_path, crf_api, importer, leads):
    rows = [
        {"id": leads[0], "status": "Nope"},
        {"id": leads[1], "status": "Contacted"},
        {"id": "x", "status": "Funded"},
    ]
    _, report = run_failing(write_csv(tmp_path, rows))

    lines = report.strip().splitlines()
    assert lines[0].startswith("row 2, status: ")
    assert any(line.startswith("row 4, id: not a CRF lead id") for line in lines)
    assert any(line.startswith("row 4, fundedDate: ") for line in lines)
    assert Disposition.objects.count() == 0


def test_an_unknown_column_is_a_bad_row_even_when_empty(tmp_path, crf_api, importer, leads):
    path = write_csv(tmp_path, [{"id": leads[0], "status": "Reviewed"}], ["id", "status", "notes"])

    _, report = run_failing(path)

    assert "row 1, notes: not a field of CRF's lead update" in report
    assert Disposition.objects.count() == 0


def test_the_same_lead_twice_with_different_dispositions_is_a_bad_row(
    tmp_path, crf_api, importer, leads
):
    rows = [{"id": leads[0], "status": "Reviewed"}, {"id": leads[0], "status": "Contacted"}]

    _, report = run_failing(write_csv(tmp_path, rows))

    assert "row 3, id: the lead is also on row 2, with a different disposition" in report
    assert Disposition.objects.count() == 0


def test_the_same_lead_twice_with_the_same_disposition_is_recorded_once(
    tmp_path, crf_api, importer, leads
):
    rows = [{"id": leads[0], "status": "Reviewed"}, {"id": leads[0].upper(), "status": "Reviewed"}]

    run(write_csv(tmp_path, rows))

    assert crf_api.posted() == [{"id": leads[0], "status": "Reviewed"}]


def test_running_the_same_file_again_changes_nothing(tmp_path, crf_api, importer, leads):
    path = write_csv(tmp_path, good_rows(leads))
    run(path)
    before = list(Disposition.objects.values_list("id", "state", "attempts"))

    out, _ = run(path)

    assert "Recorded 0 dispositions as importer (3 already recorded, skipped)" in out
    assert list(Disposition.objects.values_list("id", "state", "attempts")) == before
    assert len(crf_api.posted()) == 3


def test_a_changed_row_is_recorded_again_and_the_others_are_skipped(
    tmp_path, crf_api, importer, leads
):
    rows = good_rows(leads)
    run(write_csv(tmp_path, rows))
    rows[0]["status"] = "Qualified"

    run(write_csv(tmp_path, rows))

    assert crf_api.posted()[3:] == [{"id": leads[0], "status": "Qualified"}]
    assert Disposition.objects.count() == 4


def test_a_dry_run_says_what_would_be_recorded_and_records_nothing(
    tmp_path, crf_api, importer, leads
):
    out, _ = run(write_csv(tmp_path, good_rows(leads)), "--dry-run")

    assert f"row 2: {leads[0]}: Contacted" in out
    assert f"row 3: {leads[1]}: Funded · $250,000.00" in out
    assert "would record 3 dispositions as importer" in out
    assert "Nothing was recorded" in out
    assert Disposition.objects.count() == 0
    assert crf_api.requests == []


def test_a_dry_run_of_a_bad_file_reports_its_rows(tmp_path, crf_api, importer, leads):
    message, report = run_failing(
        write_csv(tmp_path, [{"id": leads[0], "status": "Matched"}]), "--dry-run"
    )
    assert "row 2, status" in report and "nothing was recorded" in message


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda user: user.delete(), "No user named 'importer'"),
        (lambda user: setattr(user, "is_active", False) or user.save(), "not an active staff"),
        (lambda user: setattr(user, "is_staff", False) or user.save(), "not an active staff"),
        (lambda user: user.user_permissions.clear(), "may not record dispositions"),
    ],
    ids=["unknown", "inactive", "not staff", "no permission"],
)
def test_the_importing_user_must_be_active_staff_with_the_permission(
    tmp_path, crf_api, importer, leads, setup, expected
):
    setup(importer)

    message, _ = run_failing(write_csv(tmp_path, good_rows(leads)))

    assert expected in message
    assert Disposition.objects.count() == 0


def test_a_superuser_may_import(tmp_path, crf_api, django_user_model, leads):
    django_user_model.objects.create_superuser("boss", "b@lender.example", "x")

    run(write_csv(tmp_path, good_rows(leads)), username="boss")

    assert Disposition.objects.filter(author__username="boss").count() == 3


def test_a_loan_officer_may_import_when_the_role_grants_it(
    tmp_path, crf_api, django_user_model, leads
):
    from django.contrib.auth.models import Group

    officer = django_user_model.objects.create_user("lo", is_staff=True)
    officer.groups.add(Group.objects.get(name="Loan officer"))
    Group.objects.get(name="Loan officer").permissions.add(
        Permission.objects.get(codename="add_disposition")
    )

    run(write_csv(tmp_path, good_rows(leads)), username="lo")

    assert Disposition.objects.filter(author=officer).count() == 3


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "The file is empty"),
        ("\ufeff", "The file is empty"),
        ("status\r\nContacted\r\n", "no id column"),
        ("leadId,note\r\n", "no status column"),
        ("id,status\r\n", "no rows"),
        ("id,status,id\r\n1,2,3\r\n", "names id more than once"),
    ],
)
def test_a_file_that_is_not_an_import_is_refused_with_a_clear_error(
    tmp_path, importer, content, expected
):
    path = tmp_path / "x.csv"
    path.write_text(content, encoding="utf-8")

    message, _ = run_failing(str(path))

    assert expected in message


def test_a_missing_file_is_refused_with_a_clear_error(tmp_path, importer):
    message, _ = run_failing(str(tmp_path / "nowhere.csv"))
    assert "No such file" in message


def test_a_file_that_is_not_utf8_is_refused(tmp_path, importer):
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,status,additionalInfo\r\nx,Reviewed,Café\r\n".encode("latin-1"))
    message, _ = run_failing(str(path))
    assert "not UTF-8" in message


def test_a_quoted_cell_may_hold_commas_and_line_breaks(tmp_path, crf_api, importer, leads):
    rows = [
        {
            "id": leads[0],
            "status": "Withdrawn",
            "withdrawnReason": "Other",
            "additionalInfo": 'Said "no, thanks"\nby phone',
        }
    ]
    path = write_csv(tmp_path, rows, ["id", "status", "withdrawnReason", "additionalInfo"])

    run(path)

    assert crf_api.posted()[0]["additionalInfo"] == 'Said "no, thanks"\nby phone'


def test_a_row_with_more_cells_than_the_header_is_bad(tmp_path, importer, leads):
    path = tmp_path / "x.csv"
    path.write_text(f"id,status\r\n{leads[0]},Reviewed,extra\r\n", encoding="utf-8")

    _, report = run_failing(str(path))

    assert "row 2: 3 cells, but the header has 2" in report


def test_blank_lines_at_the_end_are_ignored(tmp_path, crf_api, importer, leads):
    path = tmp_path / "x.csv"
    path.write_text(f"id,status,\r\n{leads[0]},Reviewed,\r\n,,\r\n\r\n", encoding="utf-8")

    run(str(path))

    assert crf_api.posted() == [{"id": leads[0], "status": "Reviewed"}]

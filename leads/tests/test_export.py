"""The leads CSV (docs/contract.md#11-csv-export), through `export_leads`: re-read and compared
with the leads."""

import csv
import io
import json
import uuid
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from leadcrm.csvexport import cell
from leads.export import columns
from leads.intake import bulk

pytestmark = pytest.mark.django_db


def export(tmp_path, *args) -> list[dict]:
    path = tmp_path / "leads.csv"
    call_command("export_leads", "-o", str(path), *args, stdout=io.StringIO(), stderr=io.StringIO())
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_the_header_is_the_crf_names_in_the_schemas_order(tmp_path, add_lead):
    add_lead()
    header = list(export(tmp_path)[0])  # a DictReader row keeps the header's order

    assert header[:7] == [
        "id",
        "submissionId",
        "duplicateId",
        "dateCreated",
        "status",
        "state",
        "requestedAmount",
    ]
    assert (
        header.index("businessAddress.line1")
        < header.index("statistics.censusTract")
        < header.index("funded.fundedAmount")
        < header.index("leadSource.name")
        < header.index("matchedProduct.name")
        < header.index("matchedProduct.termRange.min")
        < header.index("productSet.name")
        < header.index("fraudScore")
    )
    assert header[-2:] == ["fraudScore", "ipAddress"]
    assert "ownershipDemographicTypes" not in header


def test_every_value_matches_the_lead(tmp_path, add_lead, sample_lead):
    lead_id = add_lead()
    (row,) = export(tmp_path)

    assert row["id"] == lead_id
    assert row["requestedAmount"] == "25000.00"
    assert row["statistics.longitude"] == "-93.2639915"  # a number, not escaped text
    assert row["statistics.craEligibleTract"] == "false"
    assert row["collateralTypes"] == "Inventory"
    assert row["dateCreated"] == "2020-05-08T23:09:15.479670+00:00"
    assert row["businessAddress.line2"] == ""
    assert row["leadSource.name"] == "Some Referral Partner"
    assert row["matchedProduct.aprRange.min"] == "6.7500"
    assert row["matchedProduct.tags"] == "Minneapolis Metro Team"
    assert row["productSet.id"] == sample_lead["productSet"]["id"]
    assert row["fraudScore"] == "0.15000"


def test_formula_cells_are_escaped_and_lists_joined(tmp_path, add_lead):
    add_lead(
        nameOfBusiness='=HYPERLINK("http://evil")',
        firstName="+1",
        lastName="@me",
        phone="-555",
        technicalAssistanceOptions=["Accounting", "TaxPlanning"],
    )
    (row,) = export(tmp_path)

    assert row["nameOfBusiness"] == '\'=HYPERLINK("http://evil")'
    assert (row["firstName"], row["lastName"], row["phone"]) == ("'+1", "'@me", "'-555")
    assert row["technicalAssistanceOptions"] == "Accounting; TaxPlanning"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (Decimal("-93.26"), "-93.26"),
        (Decimal("0E-7"), "0.0000000"),
        ("-93.26", "'-93.26"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        (None, ""),
        (True, "true"),
        (["a", None, "b"], "a; b"),
        ("plain", "plain"),
    ],
)
def test_cells(value, written):
    assert cell(value) == written


def test_demographics_only_when_asked_for(tmp_path, add_lead):
    add_lead()
    assert "ownershipDemographicTypes" not in export(tmp_path)[0]
    assert export(tmp_path, "--with-demographics")[0]["ownershipDemographicTypes"] == "Veteran"
    assert [h for h, _, _ in columns(True)].index("ownershipDemographicTypes") == 11


def test_filters_choose_the_rows(tmp_path, add_lead, sample_lead):
    funded = add_lead(status="Funded", fraudScore=0.9)
    other_product = add_lead(
        matchedProduct={**sample_lead["matchedProduct"], "id": str(uuid.uuid4())}, fraudScore=0
    )
    plain = add_lead()

    assert [r["id"] for r in export(tmp_path, "--status", "Funded")] == [funded]
    product = sample_lead["matchedProduct"]["id"]
    assert {r["id"] for r in export(tmp_path, "--product", product)} == {funded, plain}
    assert {r["id"] for r in export(tmp_path, "--min-fraud", "0.5")} == {funded}
    assert {r["id"] for r in export(tmp_path, "--max-fraud", "0.2")} == {other_product, plain}


@pytest.mark.parametrize(
    ("option", "value"), [("--product", "nope"), ("--min-fraud", "high"), ("--max-fraud", "2")]
)
def test_bad_filter_values_are_clear_errors(tmp_path, option, value):
    with pytest.raises(CommandError):
        export(tmp_path, option, value)


@pytest.mark.integration  # PostgreSQL: the CSV it writes itself against the one made in Python
def test_postgresql_writes_the_same_csv_as_python(sample_lead):
    from django.utils import timezone

    from leadcrm import csvexport
    from leads import export as lead_export
    from leads.models import Lead

    odd = {
        **sample_lead,
        "id": str(uuid.uuid4()),
        "nameOfBusiness": '=HYPERLINK("x"), "Quoted" & Co',
        "otherReasonText": "two\nlines, and a comma",
        "firstName": "Zoë 日本",
        "lastName": "-minus",
        "collateralTypes": [],
        "ownershipDemographicTypes": ["Women", "@Veteran"],
        "statistics": {
            **sample_lead["statistics"],
            "latitude": 0,
            "longitude": -93.2650001,
            "craEligibleTract": None,
        },
        "dateCreated": "2026-03-01T10:00:00Z",
        "hasBusinessPlan": False,
        "matchedProduct": None,
        "email": "",
        "netProfit": -1200.5,
        "fundedDate": None,
    }
    microseconds = {
        **sample_lead,
        "id": str(uuid.uuid4()),
        "dateCreated": "2026-03-01T10:00:00.120034+02:00",
    }
    bodies = [json.dumps(lead).encode() for lead in (sample_lead, odd, microseconds)]
    list(bulk.import_leads([(body, timezone.now()) for body in bodies], source="demo"))
    leads = Lead.objects.order_by("-date_created", "id")
    chosen = lead_export.columns(with_demographics=True)

    in_python = csvexport.header([h for h, _, _ in chosen]) + "".join(
        csvexport.written(leads.values_list(*[lookup for _, lookup, _ in chosen]))
    )
    text = lead_export.lines(leads, with_demographics=True)
    by_postgresql = "".join(text)

    assert by_postgresql == in_python
    assert len(list(csv.reader(io.StringIO(by_postgresql)))) == 4


def test_an_export_cut_short_is_logged_as_finished_without_a_row_count(sample_lead):
    from django.utils import timezone

    from leads import export as lead_export
    from leads.models import ExportLog, Lead

    bodies = [json.dumps({**sample_lead, "id": str(uuid.uuid4())}).encode() for _ in range(30)]
    list(bulk.import_leads([(body, timezone.now()) for body in bodies], source="demo"))
    text = lead_export.audited_lines(
        Lead.objects.all(),
        user=None,
        source=ExportLog.Source.COMMAND,
        filters={},
        with_demographics=False,
    )
    next(text), next(text)  # the header and a first piece; then the reader goes away

    text.close()

    log = ExportLog.objects.get()
    assert log.finished_at is not None and log.rows is None
    assert Lead.objects.count() == 30  # the connection is still good (on PostgreSQL: after COPY)


def test_the_command_logs_the_shells_export_with_its_filters_and_as_asked(tmp_path, add_lead):
    from leads.models import ExportLog

    add_lead(status="Funded", ownershipDemographicTypes=["Veteran"])
    add_lead(status="Matched")

    (row,) = export(tmp_path, "--status", "Funded", "--with-demographics")

    assert row["ownershipDemographicTypes"] == "Veteran"
    log = ExportLog.objects.get()
    assert (log.user, log.source, log.filters) == (None, "command", {"status": "Funded"})
    assert (log.with_demographics, log.rows) == (True, 1)
    assert log.finished_at is not None


def test_the_shells_export_takes_the_demographics_column_as_asked(add_lead):
    from leads import export as lead_export
    from leads.models import ExportLog, Lead

    add_lead(ownershipDemographicTypes=["Veteran"])

    for asked in (False, True):
        text = "".join(
            lead_export.audited_lines(
                Lead.objects.all(),
                user=None,
                source=ExportLog.Source.COMMAND,
                filters={},
                with_demographics=asked,
            )
        )
        assert ("ownershipDemographicTypes" in text.splitlines()[0]) is asked
    logs = ExportLog.objects.order_by("started_at", "pk")
    assert list(logs.values_list("user", "with_demographics", "rows")) == [
        (None, False, 1),
        (None, True, 1),
    ]


@pytest.mark.parametrize("asked", [False, True])
def test_a_persons_export_takes_no_demographics_choice_but_their_permission(
    django_user_model, asked
):
    from leads import export as lead_export
    from leads.models import ExportLog, Lead

    officer = django_user_model.objects.create_user("officer", is_staff=True)

    with pytest.raises(ValueError, match="either a person"):
        lead_export.audited_lines(
            Lead.objects.all(),
            user=officer,
            source=ExportLog.Source.LIST,
            filters={},
            with_demographics=asked,
        )
    assert not ExportLog.objects.exists()


def test_an_export_names_who_asks_for_it():
    from leads import export as lead_export
    from leads.models import ExportLog, Lead

    with pytest.raises(ValueError, match="either a person"):
        lead_export.audited_lines(
            Lead.objects.all(), user=None, source=ExportLog.Source.COMMAND, filters={}
        )
    assert not ExportLog.objects.exists()

"""Awkward cells in the leads CSV (line breaks CR, LF and CRLF, quotes, commas, `\\.`, a formula
after a line break): the lines made in Python (SQLite and other databases) and PostgreSQL's COPY
are the same bytes, and a CSV reader sees one row per lead with every cell as stored."""

import csv
import io
from collections.abc import Sequence

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import QuerySet
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from leadcrm import csvexport
from leads import export
from leads.models import Lead

pytestmark = pytest.mark.django_db

INJECTION = "Acme\r=cmd|' /C calc'!A0"

# A text cell as stored, and the text it is written as.
TEXT_CELLS = [
    ("a\rb", '"a\rb"'),
    ("a\nb", '"a\nb"'),
    ("a\r\nb", '"a\r\nb"'),
    ("\r", '"\'\r"'),  # a leading CR is escaped as a formula, then quoted for the CR
    ("\n", '"\n"'),
    ("\r\n", '"\'\r\n"'),
    ("ends with CR\r", '"ends with CR\r"'),
    (INJECTION, f'"{INJECTION}"'),
    ("Acme\n=cmd|' /C calc'!A0", "\"Acme\n=cmd|' /C calc'!A0\""),
    ("Acme\r\n@SUM(A1:A9)", '"Acme\r\n@SUM(A1:A9)"'),
    ('say "hi"', '"say ""hi"""'),
    ('"', '""""'),
    ("a,b", '"a,b"'),
    (",", '","'),
    (" padded ", " padded "),
    ("\\.", "\\."),  # COPY quotes it only alone on its line (see the one-column test)
    ("\t", "'\t"),
    ("a\tb", "a\tb"),
    ("Zoë 日本", "Zoë 日本"),
    ("'quoted'", "'quoted'"),
    ("=1+1", "'=1+1"),
    ("", ""),
]

# A list as stored, and the cell it is written as: joined with "; ", then quoted.
LIST_CELLS = [
    (["a\rb", "c\nd", "e\r\nf"], '"a\rb; c\nd; e\r\nf"'),
    (["one; two", "three"], "one; two; three"),
    (["=x\r", "y"], '"\'=x\r; y"'),
    (["x", "\r=cmd"], '"x; \r=cmd"'),
    (['"q"', ","], '"""q""; ,"'),
    (["", ""], "; "),
    ([], ""),
]

COLUMNS = ("name_of_business", "other_reason_text", "collateral_types")


def stored(add_lead, text: str = "", other: str = "", items: Sequence[str] = ()) -> QuerySet:
    """A lead received and processed through intake, as the only row of a queryset."""
    lead_id = add_lead(nameOfBusiness=text, otherReasonText=other, collateralTypes=list(items))
    return Lead.objects.filter(pk=lead_id)


def on_both_paths(leads, lookups=COLUMNS) -> bytes:
    """The bytes Python writes for these columns; on PostgreSQL, first checked against COPY's."""
    in_python = "".join(csvexport.written(leads.values_list(*lookups))).encode()
    if connection.vendor == "postgresql":
        cells = [csvexport.sql_cell(lookup, Lead._meta.get_field(lookup)) for lookup in lookups]
        by_copy = "".join(csvexport.copied(leads.values_list(*cells), connection)).encode()
        assert by_copy == in_python
    return in_python


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize(("text", "expected"), TEXT_CELLS)
def test_a_text_cell_is_written_as_copy_writes_it(add_lead, text, expected):
    written = on_both_paths(stored(add_lead, text, text, ["Inventory"]))

    assert written == f"{expected},{expected},Inventory\n".encode()
    assert read(written.decode()) == [[csvexport.cell(text)] * 2 + ["Inventory"]]


@pytest.mark.parametrize(("items", "expected"), LIST_CELLS)
def test_a_list_cell_is_joined_then_quoted_as_copy_quotes_it(add_lead, items, expected):
    written = on_both_paths(stored(add_lead, "x", "", items))

    assert written == f"x,,{expected}\n".encode()
    assert read(written.decode()) == [["x", "", csvexport.cell(items)]]


@pytest.mark.parametrize(
    ("text", "expected"), [("\\.", b'"\\."\n'), ("", b"\n"), ("\r", b'"\'\r"\n'), ("a", b"a\n")]
)
def test_a_row_of_one_cell_is_written_as_copy_writes_it(add_lead, text, expected):
    # Alone on its line `\.` would end COPY's data, so COPY quotes it; empty is NULL, unquoted.
    assert on_both_paths(stored(add_lead, other=text), ["other_reason_text"]) == expected


def test_a_csv_reader_sees_one_row_per_lead_with_every_cell_as_stored(add_lead):
    texts = {
        add_lead(nameOfBusiness=text, otherReasonText=text, collateralTypes=[text, "x"]): text
        for text, _ in TEXT_CELLS
    }
    leads = Lead.objects.order_by("id")
    chosen = export.columns(with_demographics=True)

    by_the_export = "".join(export.lines(leads, with_demographics=True))
    in_python = csvexport.header([name for name, _, _ in chosen]) + "".join(
        csvexport.written(leads.values_list(*[lookup for _, lookup, _ in chosen]))
    )

    assert by_the_export == in_python  # on PostgreSQL the export is COPY's
    rows = list(csv.DictReader(io.StringIO(by_the_export, newline="")))
    assert sorted(row["id"] for row in rows) == sorted(texts)
    for row in rows:
        text = texts[row["id"]]
        assert row["nameOfBusiness"] == row["otherReasonText"] == csvexport.cell(text)
        assert row["collateralTypes"] == csvexport.cell([text, "x"])


def test_a_formula_after_a_carriage_return_stays_inside_its_quoted_cell(tmp_path, add_lead):
    lead_id = add_lead(nameOfBusiness=INJECTION)
    path = tmp_path / "leads.csv"
    call_command("export_leads", "-o", str(path), stdout=io.StringIO(), stderr=io.StringIO())

    data = path.read_bytes()
    assert f',"{INJECTION}",'.encode() in data
    (row,) = csv.DictReader(io.StringIO(data.decode(), newline=""))
    assert (row["id"], row["nameOfBusiness"]) == (lead_id, INJECTION)


# Text drawn mostly from the characters CSV and spreadsheets treat specially.
special = st.sampled_from("\",;\r\n\t\\. =+-@'aZé日")
awkward_text = st.text(special | st.characters(exclude_categories=["Cs"]), max_size=12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=awkward_text, other=awkward_text, items=st.lists(awkward_text, max_size=3))
@example(text=INJECTION, other="\r", items=["a\r\nb", "\r=x"])  # always tried, whatever is drawn
def test_any_text_is_written_alike_on_both_paths_and_read_back_as_stored(
    add_lead, text, other, items
):
    leads = stored(add_lead, text, other, items)

    written = on_both_paths(leads).decode()

    assert read(written) == [[csvexport.cell(value) for value in leads.values_list(*COLUMNS).get()]]

"""Dispositions from a CSV a lender's loan-origination system exports: one row per lead, the
header in CRF's field names (those of `DispositionForm`, the lead page's form).

Every row is checked before anything is stored, and one bad row stops the whole file: a lender
fixes the file and runs it again, rather than working out which half went through. Each good row
is then recorded by `services.record`, as the lead page records one (the same write-back, the
importing user its author); a row whose lead's newest disposition already has the same body is
skipped, so running a file twice changes nothing.
"""

import csv
import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from django.db import transaction

from leads.choices import DispositionSource
from leads.models import Lead

from . import services
from .forms import DispositionForm

ID = "id"
ALIASES = {"leadId": ID}  # CRF's read endpoint names the lead `leadId`
COLUMNS = [ID, *DispositionForm.base_fields]
OPTIONS = "technicalAssistanceOptions"
OPTION_SEPARATOR = re.compile(r"[;|]")
YES_NO = {"true": "true", "yes": "true", "1": "true", "false": "false", "no": "false", "0": "false"}
BATCH = 500  # ids per `IN (…)`: well under SQLite's limit on query parameters
# Rows recorded per transaction: a commit per row costs more than recording it (an fsync); the
# leads of a batch stay locked until it commits, a fraction of a second.
COMMIT_EVERY = 100
HEADER_ROW = 1  # rows are numbered as a spreadsheet shows them: the header is row 1


class UnreadableFile(ValueError):
    """The file as a whole cannot be read as an import (empty, no `id` or `status` column)."""


@dataclass(frozen=True)
class BadCell:
    row: int
    column: str  # "" when the row as a whole is wrong
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Row:
    number: int
    lead_id: uuid.UUID
    body: dict


@dataclass
class Plan:
    """What a file would record, once every row is checked: `bad` empty or nothing happens."""

    to_record: list[Row] = field(default_factory=list)
    unchanged: list[Row] = field(default_factory=list)  # the lead already has this disposition
    bad: list[BadCell] = field(default_factory=list)
    rows: int = 0


def check(lines: TextIO) -> Plan:
    """Read and check every row; nothing is stored."""
    reader = csv.reader(lines)
    header = _header(next(reader, None))
    plan = Plan()
    plan.bad += _unknown_columns(header)
    parsed: dict[uuid.UUID, Row] = {}
    for number, cells in enumerate(reader, start=HEADER_ROW + 1):
        if not any(cell.strip() for cell in cells):
            continue  # the blank lines spreadsheets leave at the end
        plan.rows += 1
        row, bad = _row(number, header, cells)
        plan.bad += bad
        if row is None:
            continue
        earlier = parsed.get(row.lead_id)
        if earlier is None:
            parsed[row.lead_id] = row
        elif earlier.body != row.body:
            reason = f"the lead is also on row {earlier.number}, with a different disposition"
            plan.bad.append(BadCell(number, ID, reason))
    if not plan.rows:
        raise UnreadableFile("The file has a header but no rows.")
    _sort_by_lead(plan, list(parsed.values()))
    return plan


def apply(plan: Plan, author, recorded: Callable[[int], object] = lambda n: None) -> int:
    """Record each row of a checked plan (none may be bad), calling `recorded` with how many
    after each commit (the command's progress bar); returns how many were recorded."""
    if plan.bad:
        raise ValueError("A plan with bad rows is not applied.")
    leads = _leads([row.lead_id for row in plan.to_record])
    rows = iter(plan.to_record)
    while batch := list(itertools.islice(rows, COMMIT_EVERY)):
        # Each batch's write-backs are queued when it commits, in the file's order.
        with transaction.atomic():
            for row in batch:
                lead = leads[row.lead_id]
                services.record(lead, row.body, author, source=DispositionSource.IMPORT)
        recorded(len(batch))
    return len(plan.to_record)


def _header(cells: list[str] | None) -> list[str]:
    if cells is None or not any(cell.strip() for cell in cells):
        raise UnreadableFile("The file is empty: it has no header row.")
    header = [ALIASES.get(cell.strip(), cell.strip()) for cell in cells]
    missing = [name for name in (ID, "status") if name not in header]
    if missing:
        raise UnreadableFile(
            f"The header has no {' and no '.join(missing)} column "
            f"(the first row should name CRF's fields: {', '.join(COLUMNS)})."
        )
    twice = sorted({name for name in header if name and header.count(name) > 1})
    if twice:
        raise UnreadableFile(f"The header names {', '.join(twice)} more than once.")
    return header


def _unknown_columns(header: list[str]) -> list[BadCell]:
    return [
        BadCell(HEADER_ROW, name or f"column {position}", "not a field of CRF's lead update")
        for position, name in enumerate(header, start=1)
        if name and name not in COLUMNS
    ]


def _row(number: int, header: list[str], cells: list[str]) -> tuple[Row | None, list[BadCell]]:
    if len(cells) > len(header):
        return None, [BadCell(number, "", f"{len(cells)} cells, but the header has {len(header)}")]
    cells = [cell.strip() for cell in cells]
    values = {name: cell for name, cell in zip(header, cells, strict=False) if name}
    bad = [
        BadCell(number, f"column {position}", "a value in a column the header does not name")
        for position, (name, cell) in enumerate(zip(header, cells, strict=False), start=1)
        if not name and cell
    ]
    lead_id = _uuid(values.get(ID, ""))
    if lead_id is None:
        bad.append(BadCell(number, ID, f"not a CRF lead id (a UUID): {values.get(ID, '')!r}"))
    data, bad_yes_no = _form_data(values)
    bad += [BadCell(number, name, reason) for name, reason in bad_yes_no]
    form = DispositionForm(data)
    if not form.is_valid():
        bad += [
            BadCell(number, "" if name == "__all__" else name, " ".join(errors))
            for name, errors in form.errors.items()
        ]
    if bad:
        return None, bad
    return Row(number, lead_id, form.body(lead_id)), []


def _form_data(values: dict[str, str]) -> tuple[dict, list[tuple[str, str]]]:
    data: dict = {name: value for name, value in values.items() if name in COLUMNS}
    options = OPTION_SEPARATOR.split(data.get(OPTIONS) or "")
    data[OPTIONS] = [option.strip() for option in options if option.strip()]
    bad = []
    answer = (data.get("willReceiveTechnicalAssistance") or "").lower()
    if answer and answer not in YES_NO:
        bad.append(("willReceiveTechnicalAssistance", f"not true or false: {answer!r}"))
    data["willReceiveTechnicalAssistance"] = YES_NO.get(answer, "")
    return data, bad


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _sort_by_lead(plan: Plan, rows: list[Row]) -> None:
    """Leads that do not exist are bad rows; the others are to record or unchanged."""
    newest = dict(_newest_bodies([row.lead_id for row in rows]))
    for row in rows:
        if row.lead_id not in newest:
            plan.bad.append(BadCell(row.number, ID, f"no lead with this id: {row.lead_id}"))
        elif newest[row.lead_id] == row.body:
            plan.unchanged.append(row)
        else:
            plan.to_record.append(row)
    plan.bad.sort(key=lambda cell: cell.row)


def _newest_bodies(lead_ids: list[uuid.UUID]) -> Iterator[tuple[uuid.UUID, dict | None]]:
    for start in range(0, len(lead_ids), BATCH):
        chunk = lead_ids[start : start + BATCH]
        yield from Lead.objects.filter(pk__in=chunk).values_list("pk", "disposition__body")


def _leads(lead_ids: list[uuid.UUID]) -> dict[uuid.UUID, Lead]:
    found = {}
    for start in range(0, len(lead_ids), BATCH):
        chunk = lead_ids[start : start + BATCH]
        # Only the key: record() locks and updates the row itself.
        found.update((lead.pk, lead) for lead in Lead.objects.filter(pk__in=chunk).only("pk"))
    return found

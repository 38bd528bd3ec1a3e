"""Streaming CSV for the admin and the commands, memory flat at any size.

Cells follow one set of rules (`cell`). On PostgreSQL the same rules are written in SQL
(`sql_cell`) and the database writes the CSV itself (`copied`): a million rows in seconds, where
making eighty million cells in Python takes minutes. Lines made in Python are quoted as COPY quotes
(`line`), so both ways give the same bytes.
"""

import codecs
import re
from collections.abc import Generator, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import F, Func, QuerySet

# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LINE_END = "\n"  # as PostgreSQL's COPY ends its lines


def cell(value: Any) -> Any:
    """A value as a CSV cell: lists joined with "; ", dates ISO 8601, numbers as numbers, text
    that a spreadsheet would run as a formula quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")  # 0.0000000, not 0E-7
    if isinstance(value, int | float):
        return value  # a negative number stays a number: -93.26, not '-93.26
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = "; ".join(str(item) for item in value if item is not None)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


# PostgreSQL's COPY (FORMAT csv) quotes a value holding the delimiter, the quote or a line break,
# CR as well as LF, and a row that is only `\.` (its end-of-data marker). Python's csv module
# cannot be told that rule: with "\n" as the line end it leaves a bare "\r" unquoted, which a
# spreadsheet takes for the end of the row, so the rest of the cell (a formula, perhaps) would
# start a row of its own. The lines are written here instead, by COPY's rule.
_QUOTE_IF_IN = re.compile('[,"\r\n]')
_END_OF_DATA = "\\."


def _field(value: Any) -> str:
    # An empty cell is written bare, as COPY writes NULL (the SQL cells make '' NULL for this).
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if _QUOTE_IF_IN.search(text) else text


def line(values: list[Any]) -> str:
    """One CSV line of cells, quoted as PostgreSQL's COPY quotes them."""
    if values == [_END_OF_DATA]:
        return f'"{_END_OF_DATA}"{LINE_END}'
    return ",".join(map(_field, values)) + LINE_END


def header(names: list[str]) -> str:
    return line(names)


def written(rows: Iterable[Iterable[Any]]) -> Generator[str, None, int]:
    """Rows made into CSV lines in Python; returns how many."""
    count = 0
    for row in rows:
        yield line([cell(value) for value in row])
        count += 1
    return count


# --- The same cells, made by PostgreSQL ------------------------------------------------------
# Each template turns the column {0} into its cell text; NULL is an empty cell, as '' would be
# written quoted by COPY.
_TEXT = (
    "NULLIF(CASE WHEN left({0}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
    "THEN '''' || {0} ELSE {0} END, '')"
)
_SQL_CELLS = {
    "bool": "CASE WHEN {0} THEN 'true' WHEN NOT {0} THEN 'false' END",
    "number": "({0})::text",
    "uuid": "({0})::text",  # hex digits and dashes: never a formula
    "datetime": (  # Python's isoformat: microseconds only when there are some
        "replace(to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '')"
        " || '+00:00'"
    ),
    "list": _TEXT.format(
        "CASE WHEN jsonb_typeof({0}) = 'array' AND {0} <> '[]' THEN "
        "(SELECT string_agg(item, '; ' ORDER BY n) "
        "FROM jsonb_array_elements_text({0}) WITH ORDINALITY AS items(item, n)) END"
    ),
    "text": _TEXT.format("({0})::text"),
}


def _kind(field: models.Field) -> str:
    if isinstance(field, models.BooleanField):
        return "bool"
    if isinstance(field, models.IntegerField | models.DecimalField | models.FloatField):
        return "number"
    if isinstance(field, models.DateTimeField):
        return "datetime"
    if isinstance(field, models.JSONField):
        return "list"
    if isinstance(field, models.UUIDField):
        return "uuid"
    return "text"


class _Cell(Func):
    output_field = models.TextField()

    def __init__(self, lookup: str, field: models.Field):
        super().__init__(F(lookup))
        self.cell_template = _SQL_CELLS[_kind(field)]

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        uses = self.cell_template.count("{0}")
        return self.cell_template.replace("{0}", column), tuple(params) * uses


def sql_cell(lookup: str, field: models.Field) -> Func:
    """The cell `cell` makes of `field`'s value, as a PostgreSQL expression."""
    return _Cell(lookup, field)


def copied(cells: QuerySet, connection) -> Generator[str, None, int]:
    """The CSV lines of a values_list of `sql_cell`s, written by PostgreSQL; returns the rows."""
    sql, params = cells.query.sql_with_params()
    decode = codecs.getincrementaldecoder("utf-8")().decode  # a block may end inside a character
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            for block in copy:
                yield decode(bytes(block))
        return cursor.cursor.rowcount

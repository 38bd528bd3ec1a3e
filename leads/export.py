"""The leads CSV (docs/contract.md#11-csv-export): CRF field names as the header, nested ones
dotted, in the schema's order; `ownershipDemographicTypes` only for who may see ownership
demographics."""

from collections.abc import Generator, Iterator

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections, models
from django.db.models import QuerySet
from django.utils import timezone

from leadcrm import csvexport

from . import firewall
from .intake import crf
from .models import ExportLog, Lead

Column = tuple[str, str, models.Field]  # CSV header, ORM lookup, the model field it reads


def columns(with_demographics: bool) -> list[Column]:
    return [
        column
        for column in _schema_order()
        if with_demographics or column[1] not in firewall.SENSITIVE_FIELDS
    ]


def _schema_order() -> Iterator[Column]:
    # In the schema, the partners stand before leadOwner and the product after it.
    for path, name in crf.LEAD_FIELDS:
        if path == "leadOwner":
            yield from _related("leadSource")
            yield from _related("servicePartner")
        yield path, name, Lead._meta.get_field(name)
        if path == "leadOwner":
            yield from _related("matchedProduct")
            yield from _related("productSet")


def _related(crf_name: str) -> Iterator[Column]:
    model, spec, foreign_key = crf.RELATED[crf_name]
    for path, name in spec:
        yield f"{crf_name}.{path}", f"{foreign_key}__{name}", model._meta.get_field(name)


def lines(leads: QuerySet, *, with_demographics: bool) -> Generator[str, None, int]:
    """The CSV in pieces of text, streamed; returns the row count once it has all been read.

    PostgreSQL writes the rows itself (COPY … TO STDOUT, cells made by csvexport's SQL); other
    databases are read in chunks and the cells made in Python. The two give the same text.
    """
    chosen = columns(with_demographics)
    yield csvexport.header([header for header, _, _ in chosen])
    connection = connections[leads.db]
    if connection.vendor == "postgresql":
        cells = leads.values_list(
            *[csvexport.sql_cell(lookup, field) for _, lookup, field in chosen]
        )
        return (yield from csvexport.copied(cells, connection))
    rows = leads.values_list(*[lookup for _, lookup, _ in chosen]).iterator(chunk_size=2000)
    return (yield from csvexport.written(rows))


def audited_lines(
    leads: QuerySet,
    *,
    user: AbstractBaseUser | None,
    source: str,
    filters: dict,
    with_demographics: bool | None = None,
) -> Iterator[str]:
    """The CSV, logged before the first byte and completed when the stream ends, however it ends
    (with the row count if read to the end).

    For a person, their permission decides whether ownership demographics go in; `user=None` is
    the shell, whose operator decides (`export_leads --with-demographics`). Exactly one of the two
    decides: a person's export that asks for demographics itself is a mistake, not a choice.
    """
    if (user is None) == (with_demographics is None):
        raise ValueError("Give either a person, or with_demographics for the shell's export.")
    if user is not None:
        with_demographics = firewall.may_see(user)
    log = ExportLog.objects.create(
        user=user, source=source, filters=filters, with_demographics=with_demographics
    )
    return _counted(lines(leads, with_demographics=with_demographics), log)


def _counted(csv_text: Generator[str, None, int], log: ExportLog) -> Iterator[str]:
    rows = None  # an export cut short (the browser went away) keeps no row count
    try:
        rows = yield from csv_text
    finally:
        ExportLog.objects.filter(pk=log.pk).update(rows=rows, finished_at=timezone.now())

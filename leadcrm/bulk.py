"""Inserting many new rows at once: PostgreSQL's COPY where there is one, `bulk_create` elsewhere.

COPY skips what makes `bulk_create` slow at a million rows (one giant INSERT statement built and
converted field by field in Python) and is the server's fastest way in. Rows must be new: a
conflict fails the whole COPY, so callers upsert existing rows their own way.
"""

import functools
from collections.abc import Iterable

from django.db import connections, models, router


def insert_one(obj: models.Model) -> bool:
    """Insert one row in one statement, unless a unique constraint finds it stored already
    (ON CONFLICT DO NOTHING); whether it was inserted, `obj` then given its key.

    `save(force_insert=True)` without the signals (none is connected for the models this
    serves), without compiling the query again each time, and without the error a duplicate
    would raise: for a webhook's one INSERT, where those were half its cost, and a re-delivery
    leaves no dead row behind. Within a transaction, a duplicate leaves it usable."""
    meta = obj._meta
    connection = connections[router.db_for_write(type(obj))]
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    sql = _insert_sql(type(obj), connection.alias)
    params = [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding, obj._state.db = False, connection.alias
    return True


@functools.cache
def _insert_sql(model: type[models.Model], alias: str) -> str:
    meta = model._meta
    quote = connections[alias].ops.quote_name
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    return (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )


def insert(model: type[models.Model], objs: list[models.Model]) -> None:
    """Insert `objs`, giving each its primary key first (as `bulk_create` does on PostgreSQL and
    SQLite), so that rows written next can refer to them."""
    if not objs:
        return
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    meta = model._meta
    if keyless := [obj for obj in objs if obj.pk is None]:
        _assign_keys(connection, meta, keyless)
    fields = meta.concrete_fields
    prepare = [_preparer(field, connection) for field in fields]
    rows = (
        [
            convert(field.pre_save(obj, add=True))
            for field, convert in zip(fields, prepare, strict=True)
        ]
        for obj in objs
    )
    _copy(connection, meta, meta.db_table, rows)
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias


def insert_new(model: type[models.Model], rows: list[dict]) -> None:
    """Insert the rows (field values by attribute name, the key among them; a field left out
    takes its default) whose keys no row has yet, as `bulk_create(ignore_conflicts=True)` does,
    without building an instance per row: on PostgreSQL by COPY into a temporary table, then one
    INSERT … SELECT … ON CONFLICT DO NOTHING. Inside a transaction."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        objs = [model(**row) for row in rows]
        model.objects.bulk_create(objs, ignore_conflicts=True, batch_size=2000)
        return
    meta = model._meta
    if unknown := set().union(*rows) - {field.attname for field in meta.concrete_fields}:
        raise TypeError(f"{meta.label} has no field {', '.join(sorted(unknown))}")
    table, staging = connection.ops.quote_name(meta.db_table), f"new_{meta.db_table}"
    prepare = [_preparer(field, connection) for field in meta.concrete_fields]
    values = [
        [
            convert(row[field.attname] if field.attname in row else field.get_default())
            for field, convert in zip(meta.concrete_fields, prepare, strict=True)
        ]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {staging} (LIKE {table}) ON COMMIT DROP")
        _copy(connection, meta, staging, values)
        cursor.execute(f"INSERT INTO {table} SELECT * FROM {staging} ON CONFLICT DO NOTHING")
        cursor.execute(f"DROP TABLE {staging}")


def _copy(connection, meta, table: str, rows: Iterable[list]) -> None:
    """COPY rows of prepared values, one per concrete field, into `table`."""
    columns = ", ".join(connection.ops.quote_name(field.column) for field in meta.concrete_fields)
    # Errors as Django's (DataError, IntegrityError, …): the cursor below is psycopg's own.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _assign_keys(connection, meta, objs) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        for obj, (key,) in zip(objs, cursor.fetchall(), strict=True):
            setattr(obj, meta.pk.attname, key)


def _preparer(field: models.Field, connection):
    """Values psycopg cannot take as they are (JSON) go through the field's own preparation."""
    if isinstance(field, models.JSONField):
        return lambda value: field.get_db_prep_save(value, connection)
    return lambda value: value

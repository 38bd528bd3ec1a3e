"""Inserting many new rows at once: PostgreSQL's COPY where there is one, `bulk_create` elsewhere.

COPY skips what makes `bulk_create` slow at a million rows (one giant INSERT statement built and
converted field by field in Python) and is the server's fastest way in. Rows must be new: a
conflict fails the whole COPY, so callers upsert existing rows their own way.
"""

from django.db import connections, models, router


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
    _copy(connection, meta, meta.db_table, objs)
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias


def insert_new(model: type[models.Model], objs: list[models.Model]) -> None:
    """Insert those of `objs` whose keys no row has yet, as `bulk_create(ignore_conflicts=True)`
    does: on PostgreSQL by COPY into a temporary table, then one INSERT … SELECT … ON CONFLICT DO
    NOTHING. Keys must be set. Inside a transaction."""
    if not objs:
        return
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, ignore_conflicts=True, batch_size=2000)
        return
    meta = model._meta
    table, staging = connection.ops.quote_name(meta.db_table), f"new_{meta.db_table}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {staging} (LIKE {table}) ON COMMIT DROP")
        _copy(connection, meta, staging, objs)
        cursor.execute(f"INSERT INTO {table} SELECT * FROM {staging} ON CONFLICT DO NOTHING")
        cursor.execute(f"DROP TABLE {staging}")


def _copy(connection, meta, table: str, objs: list[models.Model]) -> None:
    fields = meta.concrete_fields
    prepare = [_preparer(field, connection) for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    # Errors as Django's (DataError, IntegrityError, …): the cursor below is psycopg's own.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN"
        ) as copy,
    ):
        for obj in objs:
            copy.write_row(
                [
                    convert(field.pre_save(obj, add=True))
                    for field, convert in zip(fields, prepare, strict=True)
                ]
            )


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

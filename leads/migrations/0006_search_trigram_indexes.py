"""Trigram indexes behind the lead list's text search (PostgreSQL only).

The admin searches with `icontains`, which Django writes as `UPPER(col::text) LIKE UPPER('%term%')`:
no B-tree can serve a leading wildcard, so without these a search reads every lead. A GIN index
of trigrams on the same expression serves it, and the OR across the columns becomes a BitmapOr.
SQLite (development) has no GIN: there the migration does nothing.
"""

from django.db import migrations

SEARCHED = ["name_of_business", "first_name", "last_name", "email", "phone"]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in SEARCHED:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS lead_{column}_trgm ON leads_lead "
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in SEARCHED:
        schema_editor.execute(f"DROP INDEX IF EXISTS lead_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("leads", "0005_roles")]
    operations = [migrations.RunPython(create, drop)]

"""One trigram index for the lead list's search instead of one per field (PostgreSQL only).

The search reads the five fields as one text (`leads.models.LeadSearchText`) and Django writes
each word as `UPPER(text::text) LIKE UPPER('%word%')`: this index on the same expression serves
all the words of a search in one scan, where the per-field indexes of 0006 took five a word.
"""

from django.db import migrations

SEARCHED = ["name_of_business", "first_name", "last_name", "email", "phone"]
SEARCH_TEXT = " || ' ' || ".join(f'"{column}"' for column in SEARCHED)


def one_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in SEARCHED:
        schema_editor.execute(f"DROP INDEX IF EXISTS lead_{column}_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS lead_search_trgm ON leads_lead "
        f"USING gin ((UPPER(({SEARCH_TEXT})::text)) gin_trgm_ops)"
    )
    # Statistics on the new expression: without them the planner guesses how many leads a
    # search matches, and may walk every lead newest first to find one.
    schema_editor.execute("ANALYZE leads_lead")


def index_per_field(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS lead_search_trgm")
    for column in SEARCHED:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS lead_{column}_trgm ON leads_lead "
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [("leads", "0007_exact_email_phone_search")]
    operations = [migrations.RunPython(one_index, index_per_field)]

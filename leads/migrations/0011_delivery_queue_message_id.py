"""A pulled queue message's id in a column of its own, unique there, instead of a unique index on
a key of the stored headers JSON.

The header stays in the stored headers (people read it there), so going back only drops the
column: the old index is rebuilt from the headers, which still hold every id.
"""

from django.db import migrations, models
from django.db.models import Q
from django.db.models.fields.json import KT

# The header the queue puller kept the id in, as at this migration's time.
MESSAGE_ID_HEADER = "azure-message-id"


def copy_message_ids(apps, schema_editor):
    """One UPDATE, compiled for the database at hand (->> on PostgreSQL, json_extract on SQLite).
    Only queue deliveries: a webhook's own headers might name the same key. The old index kept
    the values unique among them, so the new constraint finds no duplicates."""
    LeadDelivery = apps.get_model("leads", "LeadDelivery")
    LeadDelivery.objects.filter(source="azure-queue").update(
        queue_message_id=KT(f"headers__{MESSAGE_ID_HEADER}")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0010_lead_restricted"),
    ]

    operations = [
        migrations.AddField(
            model_name="leaddelivery",
            name="queue_message_id",
            field=models.CharField(blank=True, editable=False, max_length=255, null=True),
        ),
        migrations.RunPython(copy_message_ids, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="leaddelivery",
            name="delivery_queue_message_uniq",
        ),
        migrations.AddConstraint(
            model_name="leaddelivery",
            constraint=models.UniqueConstraint(
                condition=Q(queue_message_id__isnull=False),
                fields=["queue_message_id"],
                name="delivery_queue_message_uniq",
            ),
        ),
    ]

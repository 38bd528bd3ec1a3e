"""A delivery's claim by a published task (queued_at), so the sweep queues each due lead once.

Deliveries pending at the time of the migration have no claim: the first sweep queues them.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0008_one_search_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="leaddelivery",
            name="queued_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="leaddelivery",
            index=models.Index(
                condition=models.Q(("outcome", "pending")),
                fields=["queued_at"],
                name="delivery_unqueued_idx",
            ),
        ),
    ]

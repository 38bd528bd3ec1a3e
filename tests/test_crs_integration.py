"""CRS alerts on PostgreSQL: a nightly batch in bulk, and notifications through a real worker."""

import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.models import Alert, AlertDelivery, CRSUser, Notification, NotificationRule

from .conftest import wait_until

pytestmark = pytest.mark.integration


def nightly_batch(size: int, users: int) -> list[dict]:
    user_ids = [str(uuid.uuid4()) for _ in range(users)]
    return [
        {
            "id": str(uuid.uuid4()),
            "type": "ACCALERT",
            "user_id": user_ids[n % users],
            "host_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
            "time": 1763784000 + n,
            "alert_id": str(uuid.uuid4()),
            "alert_date": "2026-11-21T04:00:00Z",
            "alert_source": "Equifax",
        }
        for n in range(size)
    ]


@pytest.mark.django_db
def test_a_batch_of_ten_thousand_is_stored_in_a_bounded_number_of_statements(post_alerts):
    batch = nightly_batch(10_000, users=4_000)

    with CaptureQueriesContext(connection) as queries:
        response = post_alerts(batch)

    assert response.status_code == 200
    assert all(answer["status"] for answer in response.json())
    assert Alert.objects.count() == 10_000 and CRSUser.objects.count() == 4_000
    # raw insert, savepoint, 2 user INSERTs, 5 alert INSERTs, the counts update, release
    assert len(queries) <= 15, [q["sql"][:80] for q in queries]


@pytest.mark.django_db(transaction=True)
def test_notifications_go_out_through_a_real_worker(
    client, celery_worker, worker_mail_dir, crs_credentials, linked_person
):
    # Earlier transactional tests truncate the tables, the data migration's rules included.
    NotificationRule.objects.update_or_create(
        alert_type="ACCALERT", defaults={"notify_crs_user": True, "notify_assigned_officer": True}
    )

    person = linked_person
    batch = [{**item, "user_id": str(person.id)} for item in nightly_batch(20, users=1)]
    batch.append({"id": str(uuid.uuid4()), "type": "TEST", "user_id": str(person.id)})

    from conftest import CRS_URL, basic_auth

    response = client.post(
        CRS_URL,
        json.dumps(batch),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(*crs_credentials),
    )

    assert response.status_code == 200
    wait_until(
        lambda: not Alert.objects.filter(processed_at=None).exists(),
        message="the worker to notify 21 alerts",
    )
    assert Notification.objects.filter(status="sent").count() == 40
    sent = "".join(path.read_text() for path in worker_mail_dir.iterdir())
    assert sent.count("To: bob@somecompany.com") == 20
    assert sent.count("To: officer@lender.example") == 20
    assert AlertDelivery.objects.get().accepted == 21

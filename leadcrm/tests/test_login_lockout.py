"""Admin logins: repeated failures lock that username out from that address (django-axes), until
the cool-off passes or an administrator unlocks it."""

import pytest
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
PASSWORD = "the-right-password-42"


@pytest.fixture
def officer(django_user_model):
    return django_user_model.objects.create_user("officer", password=PASSWORD, is_staff=True)


def log_in(client, password: str, address: str = "198.51.100.7", username: str = "officer"):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def test_after_five_wrong_passwords_even_the_right_one_is_refused(client, officer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200  # the form again, with its error
    locked = log_in(client, "wrong")
    assert locked.status_code == 429
    assert b'id="locked-out"' in locked.content

    refused = log_in(client, PASSWORD)

    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_username_and_address(client, officer, django_user_model, settings):
    django_user_model.objects.create_user("manager", password=PASSWORD, is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")

    assert log_in(client, PASSWORD, address="203.0.113.9").status_code == 302  # elsewhere: fine
    client.logout()
    assert log_in(client, PASSWORD, username="manager").status_code == 302  # another user: fine


def test_an_administrator_unlocks_with_a_command(client, officer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD).status_code == 429

    call_command("axes_reset_username", "officer")

    assert log_in(client, PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(officer.pk)


def test_a_success_before_the_limit_starts_the_count_again(client, officer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD).status_code == 302


def test_the_passwords_tried_are_never_stored(client, officer):
    from axes.models import AccessAttempt

    log_in(client, "a-secret-typed-wrong")

    stored = " ".join(str(value) for value in AccessAttempt.objects.values().get().values())
    assert "a-secret-typed-wrong" not in stored

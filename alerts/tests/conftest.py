import pytest


@pytest.fixture
def manager_client(client, django_user_model):
    """The test client logged in as a lending manager: the role that edits notification rules."""
    from django.contrib.auth.models import Group

    from leads.roles import LENDING_MANAGER

    manager = django_user_model.objects.create_user(
        "manager", "manager@lender.example", "x", is_staff=True
    )
    manager.groups.add(Group.objects.get(name=LENDING_MANAGER))
    client.force_login(manager)
    return client

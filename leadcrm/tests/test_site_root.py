"""The site's root: the admin is the application, so a bare address leads there."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_root_redirects_to_the_admin(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_the_admins_view_site_link_leads_back_to_the_workspace(client, django_user_model):
    boss = django_user_model.objects.create_superuser("boss", "boss@lender.example", "x")
    client.force_login(boss)
    workspace = client.get("/admin/")
    assert '<a href="/">View site</a>' in workspace.content.decode()

    response = client.get("/", follow=True)

    assert response.redirect_chain == [("/admin/", 302)]
    assert response.status_code == 200


def test_other_unknown_paths_still_answer_404(client):
    assert client.get("/admin-typo/").status_code == 404

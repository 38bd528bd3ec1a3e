"""Chromium for the browser tests (as a pytest plugin, root conftest.py): the module-wide
`browser` and `logged_in`, a page logged in through the login form as a new member of a role.
Screenshots go to SHOTS (git-ignored) for a person to look at."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission

from leadcrm.roles import ensure_roles

CHROMIUM = os.environ.get("CHROMIUM", "/usr/lib/chromium/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "screenshots"
PASSWORD = "browser-test-password"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain.
    # Only for these tests: `check --deploy` rightly refuses the variable anywhere else.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            yield chromium
            chromium.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def logged_in(browser, live_server, django_user_model):
    """A page logged in as a new member of the role, through the login form."""
    ensure_roles(Group, Permission)  # earlier transactional tests emptied the tables
    pages = []

    def as_role(role: str):
        username = role.split()[-1]
        user = django_user_model.objects.create_user(
            username, f"{username}@lender.example", PASSWORD, is_staff=True
        )
        user.groups.add(Group.objects.get(name=role))
        page = browser.new_page(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
        pages.append(page)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        return page

    yield as_role
    for page in pages:
        page.close()

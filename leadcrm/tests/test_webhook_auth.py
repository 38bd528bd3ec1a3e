"""Authentication cases written once, run against every partner endpoint."""

import json

import pytest

from alerts.models import AlertDelivery
from conftest import CRF_URL, CRS_URL, basic_auth
from leads.models import LeadDelivery

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "crf": (CRF_URL, LeadDelivery, "HTTP_X_API_KEY", "test-crf-secret", "wrong-secret"),
    "crs": (
        CRS_URL,
        AlertDelivery,
        "HTTP_AUTHORIZATION",
        basic_auth("crs-test", "pw-0123456789"),
        basic_auth("crs-test", "wrong"),
    ),
}


@pytest.fixture(params=ENDPOINTS)
def endpoint(request, crf_secret, crs_credentials):
    return ENDPOINTS[request.param]


def post(client, endpoint, credential=None):
    url, _, header, _, _ = endpoint
    headers = {header: credential} if credential is not None else {}
    return client.post(url, json.dumps({"id": "x"}), content_type="application/json", **headers)


def test_no_credentials_is_401_json_and_stores_nothing(client, endpoint):
    response = post(client, endpoint)
    assert response.status_code == 401
    assert response.json()["error"] in ("not_authenticated", "authentication_failed")
    assert response["WWW-Authenticate"]
    assert endpoint[1].objects.count() == 0


def test_a_wrong_credential_is_401_and_stores_nothing(client, endpoint):
    assert post(client, endpoint, endpoint[4]).status_code == 401
    assert endpoint[1].objects.count() == 0


def test_the_right_credential_is_let_in_and_the_delivery_kept(client, endpoint):
    assert post(client, endpoint, endpoint[3]).status_code in (200, 400)  # the body is not a lead
    assert endpoint[1].objects.count() == 1


def test_unconfigured_credentials_fail_closed_with_503(client, endpoint, settings):
    settings.CRF_WEBHOOK_SECRET, settings.CRS_WEBHOOK_PASSWORD = [], ""
    response = post(client, endpoint, endpoint[3])
    assert response.status_code == 503 and response.json()["error"] == "not_configured"
    assert endpoint[1].objects.count() == 0


def test_credentials_never_reach_the_stored_headers(client, endpoint):
    post(client, endpoint, endpoint[3])
    assert endpoint[3] not in json.dumps(endpoint[1].objects.get().headers)

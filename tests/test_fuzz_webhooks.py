"""Both webhooks fuzzed under the production server (gunicorn, PostgreSQL, a real worker).

Properties, for whatever body and credentials come: never a 5xx; every 4xx is the JSON error
shape; every lead answered 2xx ends processed, never failed; every CRS item answered true is
committed, once. Bounded so that it runs in every CI run.
"""

import base64
import http.client
import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.models import Alert
from conftest import CRF_URL, CRS_URL, SAMPLE_BATCH, SAMPLE_LEAD
from leads.models import LeadDelivery

from .conftest import gunicorn, wait_until
from .jsonfuzz import DEEP, SCALARS, TEXT, VALUES, Token, body_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECRET = "fuzz-secret"
CRS_USER, CRS_PASSWORD = "crs-fuzz", "fuzz-password"
BASIC = "Basic " + base64.b64encode(f"{CRS_USER}:{CRS_PASSWORD}".encode()).decode()
FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LEAD = json.loads(Path(SAMPLE_LEAD).read_text())
BATCH = json.loads(Path(SAMPLE_BATCH).read_text())


@pytest.fixture(scope="module")
def server(service_env):
    env = {
        **service_env,
        "CRF_WEBHOOK_SECRET": SECRET,
        "CRS_WEBHOOK_USERNAME": CRS_USER,
        "CRS_WEBHOOK_PASSWORD": CRS_PASSWORD,
    }
    with gunicorn(env, "--access-logfile", "/dev/null") as url:
        yield urlsplit(url).port


def send(port: int, path: str, body: bytes, headers: dict, chunked: bool) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    if chunked:
        connection.request(
            "POST", path, body=iter([body[:7], body[7:]]), headers=headers, encode_chunked=True
        )
    else:
        connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def assert_json_error(status: int, answer: bytes) -> None:
    assert status < 500, answer[:500]
    if status >= 400:
        error = json.loads(answer)
        assert isinstance(error["error"], str) and isinstance(error["detail"], str), error


# A value put somewhere in a real-shaped payload: a known field, a nested one, or a new key.
ODD = VALUES | DEEP | SCALARS


def _mutated(document: dict, paths: list[tuple[str, ...]]):
    """The document with one to four of its fields (or new keys) set to generated values."""
    where = (
        st.sampled_from(paths) | st.tuples(TEXT) | st.tuples(st.sampled_from(list(document)), TEXT)
    )
    return st.lists(st.tuples(where, ODD), min_size=1, max_size=4).map(
        lambda changes: _apply(document, changes)
    )


def _apply(document: dict, changes) -> dict:
    result = json.loads(json.dumps(document))
    for path, value in changes:
        node = result
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node.get(key, {}), dict) else {}
        node[path[-1]] = value
    return result


def _paths(document: dict) -> list[tuple[str, ...]]:
    paths = []
    for key, value in document.items():
        paths.append((key,))
        if isinstance(value, dict):
            paths += [(key, child) for child in value]
    return paths


# Mostly the sample lead with odd values (a fresh id each time, so they are new leads), now and
# then its id or status odd, or a body that is no lead at all.
LEAD_PATHS = [path for path in _paths(LEAD) if path not in {("id",), ("status",)}]
LEADS = st.one_of(
    st.builds(
        lambda lead, lead_id: {**lead, "id": lead_id},
        _mutated(LEAD, LEAD_PATHS),
        st.uuids().map(str),
    ),
    _mutated(LEAD, [("id",), ("status",)]),
    VALUES,
)


@FUZZ
@given(lead=LEADS, chunked=st.booleans())
def test_no_lead_body_gives_a_5xx_and_every_202_ends_processed(
    server, celery_worker, lead, chunked
):
    status, answer = send(server, CRF_URL, body_of(lead), {"X-Api-Key": SECRET}, chunked)

    assert_json_error(status, answer)
    if status == 202:
        delivery = json.loads(answer)["delivery"]
        done = LeadDelivery.objects.filter(pk=delivery, outcome__in=["processed", "failed"])
        wait_until(done.exists, timeout=60, message=f"delivery {delivery} to be processed")
        assert LeadDelivery.objects.get(pk=delivery).outcome == "processed", answer


ITEM_PATHS = _paths(BATCH[0])
ITEMS = st.one_of(
    st.builds(
        lambda item, item_id: {**item, "id": item_id},
        _mutated(BATCH[0], ITEM_PATHS),
        st.uuids().map(str),
    ),
    _mutated(BATCH[0], [("id",)]),
    SCALARS,
)
BATCHES = st.lists(ITEMS, max_size=6) | ITEMS | VALUES


@FUZZ
@given(batch=BATCHES, chunked=st.booleans())
def test_no_batch_gives_a_5xx_and_every_true_is_committed_once(server, batch, chunked):
    status, answer = send(server, CRS_URL, body_of(batch), {"Authorization": BASIC}, chunked)

    assert_json_error(status, answer)
    if status == 200:
        answers = json.loads(answer)
        items = batch if isinstance(batch, list) else [batch]
        assert len(answers) == len(items)
        for item, entry in zip(items, answers, strict=True):
            assert isinstance(entry["status"], bool)
            if entry["status"]:
                assert Alert.objects.filter(pk=uuid.UUID(str(item["id"]))).count() == 1


@FUZZ
@given(
    path=st.sampled_from([CRF_URL, CRS_URL]),
    # What a header value may hold (RFC 9110: visible ASCII, space, obs-text); anything else is
    # refused by gunicorn itself, before LeadCRM sees the request.
    credential=st.text(
        st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=40
    ),
    scheme=st.sampled_from(["Basic ", "Bearer ", ""]),
)
def test_whatever_bytes_the_credentials_hold_they_are_a_401_never_a_5xx(
    server, path, credential, scheme
):
    headers = {
        "Authorization": (scheme + credential).encode("latin-1"),
        "X-Api-Key": credential.encode("latin-1"),
    }
    status, answer = send(server, path, b"[]", headers, chunked=False)

    assert status == 401, answer
    assert_json_error(status, answer)


def test_the_odd_values_reach_the_server_as_written():
    """The generator writes what json.dumps would refuse, as raw text."""
    assert body_of({"a": Token("NaN"), "b": "\ud800\x00"}) == b'{"a":NaN,"b":"\\ud800\\u0000"}'

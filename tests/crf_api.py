"""A test CRF: a small HTTP server that answers as CRF's Lead Management API pages say
(docs/contract.md#16-dispositions), for the write-back tests. CRF cannot run here.

It checks the `x-api-key` header and the body (CRF's LeadUpdateModel: the lead's `id`, a status a
lender may set) and records every request. `POST …/leads` answers 200 and remembers the status,
which `GET …/leads?leadId=` then reads back; `script()` queues other answers first: a status
with ProblemDetails or Retry-After, a delay longer than the client's timeout, a dropped
connection. Lead ids it has been told about with `forget()` answer 404.

As a pytest plugin (root conftest.py) it gives the `crf_api` fixture: a server of its own, with
the settings pointing at it.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

KEY = "test-crf-key-3f9a"
ROUTE = "test-lender"
LENDER_STATUSES = {"Reviewed", "Contacted", "Qualified", "Funded", "Disqualified", "Withdrawn"}


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    delay: float = 0  # seconds before answering (past the client's timeout: a timeout)
    drop: bool = False  # close the connection without an answer
    # With a delay or a drop: whether CRF took the update anyway (it acted, the answer was lost).
    apply: bool = False

    @property
    def applies(self) -> bool:
        return self.apply if (self.delay or self.drop) else self.status == 200


def problem(status: int, title: str, detail: str) -> Answer:
    return Answer(
        status,
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        {"Content-Type": "application/problem+json"},
    )


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: dict | None
    at: float


class CRF:
    def __init__(self):
        self.requests: list[Request] = []
        self.statuses: dict[str, str] = {}  # lead id → the status CRF shows
        self.forgotten: set[str] = set()
        self._script: list[Answer] = []
        self._applied: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, *answers: Answer) -> None:
        """The next requests get these answers, in order; then 200s again."""
        with self._lock:
            self._script.extend(answers)

    def forget(self, lead_id) -> None:
        self.forgotten.add(str(lead_id))

    def posted(self, lead_id=None) -> list[dict]:
        """The bodies POSTed (of one lead), in arrival order."""
        return [
            r.body
            for r in list(self.requests)
            if r.method == "POST" and (lead_id is None or r.body.get("id") == str(lead_id))
        ]

    def applied(self, lead_id) -> list[str]:
        """The statuses CRF took for the lead (answered 200, or applied before a timeout)."""
        return [entry[1] for entry in self._applied if entry[0] == str(lead_id)]

    def _next(self) -> Answer:
        with self._lock:
            return self._script.pop(0) if self._script else Answer()


def _handler(crf: CRF):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

        def _handle(self, method: str):
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            crf.requests.append(Request(method, url.path, dict(self.headers), body, time.time()))
            if self.headers.get("x-api-key") != KEY:
                return self._send(Answer(401, {"title": "Unauthorized", "status": 401}))
            if url.path != f"/api/v1/{ROUTE}/leads":
                return self._send(problem(404, "Not Found", f"No route {url.path}"))
            answer = crf._next()
            if method == "GET":
                return self._read(parse_qs(url.query).get("leadId", [""])[0], answer)
            return self._update(body, answer)

        def _read(self, lead_id: str, answer: Answer):
            if answer.status != 200 or answer.drop or answer.delay:
                return self._send(answer)
            if lead_id in crf.forgotten or lead_id not in crf.statuses:
                return self._send(problem(404, "Not Found", f"Lead {lead_id} is not yours."))
            self._send(Answer(200, {"id": lead_id, "status": crf.statuses[lead_id]}))

        def _update(self, body, answer: Answer):
            if not isinstance(body, dict) or not body.get("id"):
                return self._send(problem(400, "Bad Request", "The id field is required."))
            if body.get("status") not in LENDER_STATUSES:
                return self._send(problem(400, "Bad Request", "The status is not valid."))
            if body["id"] in crf.forgotten:
                return self._send(problem(404, "Not Found", "Lead not found."))
            if body["status"] == "Funded" and "fundedAmount" not in body:
                return self._send(problem(400, "Bad Request", "Funding terms are required."))
            if answer.applies:
                crf.statuses[body["id"]] = body["status"]
                crf._applied.append((body["id"], body["status"]))
            self._send(answer)

        def _send(self, answer: Answer):
            if answer.delay:
                time.sleep(answer.delay)
            if answer.drop:
                self.close_connection = True
                self.connection.close()
                return
            payload = json.dumps(answer.body).encode() if answer.body is not None else b""
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if payload and "Content-Type" not in answer.headers:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (its timeout)

    return Handler


@pytest.fixture
def crf_api(settings):
    """A test CRF, and the settings pointing LeadCRM at it."""
    server = CRF()
    settings.CRF_API_URL = server.url
    settings.CRF_API_KEY = KEY
    settings.CRF_PARTNER_ROUTE = ROUTE
    settings.CRF_API_TIMEOUT = 1
    yield server
    server.close()

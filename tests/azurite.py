"""Azurite, the Azure Storage emulator (npm, pinned in package.json; `make install` installs it),
for the tests that pull leads and for trying the pull by hand.

As a pytest plugin (root conftest.py) it gives the session-wide `azurite` fixture: a queue and a
blob service on free ports over a temporary directory, always stopped, and a failure (never a
skip) when Azurite cannot start.

    .venv/bin/python -m tests.azurite [--leads N]

starts it on its usual ports (data in .azurite/), prints the lines to put in .env, pushes N
sample leads into the queue and the container as CRF would (with add-only SAS), and runs until
Ctrl-C.
"""

import argparse
import json
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient, generate_container_sas
from azure.storage.queue import QueueClient, QueueServiceClient, generate_queue_sas

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "node_modules" / ".bin"
SAMPLE_LEAD = ROOT / "leads" / "samples" / "crf_lead.json"
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key, published with the emulator: it guards nothing.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Azurite:
    queue_port: int
    blob_port: int

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"QueueEndpoint=http://{HOST}:{self.queue_port}/{ACCOUNT};"
            f"BlobEndpoint=http://{HOST}:{self.blob_port}/{ACCOUNT};"
        )

    def new_queue(self, name: str | None = None) -> QueueClient:
        """A queue of its own (account-key client: what a test sets up and inspects with)."""
        service = QueueServiceClient.from_connection_string(self.connection_string)
        return service.create_queue(name or f"leads-{uuid.uuid4().hex[:12]}")

    def new_container(self, name: str | None = None) -> ContainerClient:
        service = BlobServiceClient.from_connection_string(self.connection_string)
        return service.create_container(name or f"leads-{uuid.uuid4().hex[:12]}")

    def queue_sas_url(
        self,
        name: str,
        permission: str = "rp",
        expiry: datetime | None = None,
        crf_style: bool = False,
    ) -> str:
        """A SAS URL for the queue; `crf_style` adds the `/messages` CRF's URLs end in."""
        sas = generate_queue_sas(ACCOUNT, name, KEY, permission=permission, expiry=_expiry(expiry))
        suffix = "/messages" if crf_style else ""
        return f"http://{HOST}:{self.queue_port}/{ACCOUNT}/{name}{suffix}?{sas}"

    def container_sas_url(
        self, name: str, permission: str = "rl", expiry: datetime | None = None
    ) -> str:
        sas = generate_container_sas(
            ACCOUNT, name, KEY, permission=permission, expiry=_expiry(expiry)
        )
        return f"http://{HOST}:{self.blob_port}/{ACCOUNT}/{name}?{sas}"


def _expiry(expiry: datetime | None) -> datetime:
    return expiry or datetime.now(UTC) + timedelta(days=365)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def running(
    location: Path, queue_port: int, blob_port: int, timeout: float = 60
) -> Iterator[Azurite]:
    """Azurite's queue and blob services, started, waited for, and always stopped."""
    processes = []
    try:
        for service, port in (("queue", queue_port), ("blob", blob_port)):
            processes.append(_start(service, port, location))
        _wait_for(processes, [queue_port, blob_port], location, timeout)
        yield Azurite(queue_port, blob_port)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _start(service: str, port: int, location: Path) -> subprocess.Popen:
    program = BIN / f"azurite-{service}"
    if not program.exists():
        missing = program.relative_to(ROOT)
        raise RuntimeError(f"Azurite is not installed ({missing}): run `make install`.")
    command = [
        str(program),
        "--silent",
        "--loose",
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--location",
        str(location),
        f"--{service}Host",
        HOST,
        f"--{service}Port",
        str(port),
    ]
    log = open(location / f"azurite-{service}.log", "ab")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def _wait_for(
    processes: list[subprocess.Popen], ports: list[int], location: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not all(_listening(port) for port in ports):
        exited = [p for p in processes if p.poll() is not None]
        if exited or time.monotonic() > deadline:
            logs = "\n".join(p.read_text(errors="replace") for p in location.glob("azurite-*.log"))
            raise RuntimeError(f"Azurite did not start on ports {ports}:\n{logs[-2000:]}")
        time.sleep(0.1)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


@pytest.fixture(scope="session")
def azurite(tmp_path_factory) -> Iterator[Azurite]:
    location = tmp_path_factory.mktemp("azurite")
    with ExitStack() as stack:
        try:
            emulator = stack.enter_context(running(location, free_port(), free_port()))
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield emulator


# --- Trying it by hand ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Azurite with a CRF queue and container.")
    parser.add_argument("--leads", type=int, default=3, help="sample leads to push into each")
    options = parser.parse_args()
    location = ROOT / ".azurite"
    location.mkdir(exist_ok=True)
    with running(location, 10001, 10000) as emulator:
        queue, container = _ensure(emulator, "crf-leads")
        print("Azurite is running. Put these lines in .env, then `make run`:\n")
        print(f"CRF_AZURE_QUEUE_URL={emulator.queue_sas_url(queue, crf_style=True)}")
        print(f"CRF_AZURE_BLOB_URL={emulator.container_sas_url(container, permission='rld')}")
        print(f"CRF_AZURE_ALLOWED_HOSTS={HOST}\nCRF_AZURE_BLOB_DELETE=true\n")
        _push_as_crf(emulator, queue, container, options.leads)
        print(f"Pushed {options.leads} sample leads into each, as CRF does. Ctrl-C stops Azurite.")
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it cleanly too
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def _ensure(emulator: Azurite, name: str) -> tuple[str, str]:
    for create in (emulator.new_queue, emulator.new_container):
        try:
            create(name)
        except Exception as exc:  # already there from an earlier run
            if "AlreadyExists" not in str(exc):
                raise
    return name, name


def _push_as_crf(emulator: Azurite, queue: str, container: str, count: int) -> None:
    """With the add-only (queue) and create-only (container) SAS CRF holds: it cannot read."""
    crf_queue = QueueClient.from_queue_url(emulator.queue_sas_url(queue, permission="a"))
    crf_container = ContainerClient.from_container_url(
        emulator.container_sas_url(container, permission="c")
    )
    sample = json.loads(SAMPLE_LEAD.read_text())
    for _ in range(count):
        crf_queue.send_message(json.dumps({**sample, "id": str(uuid.uuid4())}))
        lead_id = str(uuid.uuid4())
        crf_container.upload_blob(f"{lead_id}.json", json.dumps({**sample, "id": lead_id}))


if __name__ == "__main__":
    main()

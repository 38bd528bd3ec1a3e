"""Pulling CRF leads from an Azure Storage blob container
(docs/contract.md#6-pulling-leads-from-azure-storage).

The listing is followed page after page; a blob holds one lead or a JSON array of leads. The
ledger (PulledBlob) is written in the blob's own transaction, and its unique constraint decides
between two pullers; a blob CRF rewrites (a new ETag) is taken again.
"""

import json
import logging
from datetime import datetime

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobProperties, ContainerClient
from azure.storage.blob import ExponentialRetry as BlobRetry
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.models import PulledBlob

from . import sas
from .base import AZURE_BLOB, RETRY, Tally, describe, receive

log = logging.getLogger(__name__)

BLOB_PAGE_SIZE = 1000


def pull_blobs(target: sas.SasUrl, tally: Tally) -> None:
    container = ContainerClient.from_container_url(target.url, retry_policy=BlobRetry(**RETRY))
    pending = 0
    # by_page() follows the listing's continuation marker from page to page.
    for page in container.list_blobs(results_per_page=BLOB_PAGE_SIZE).by_page():
        blobs = list(page)
        ledger = _ledger(target.resource, blobs)
        for blob in blobs:
            key = (blob.name, _etag(blob.etag))
            if key not in ledger:
                pending += not _take_blob(container, target.resource, blob, tally)
            elif settings.CRF_AZURE_BLOB_DELETE and ledger[key] is None:
                _delete_blob(container, target.resource, *key)  # a deletion that failed before
    tally.pending = pending


def _ledger(resource: str, blobs: list[BlobProperties]) -> dict[tuple[str, str], datetime | None]:
    """The page's blobs already taken, with when they were deleted: one query per page."""
    rows = PulledBlob.objects.filter(container=resource, name__in=[blob.name for blob in blobs])
    taken = rows.values_list("name", "etag", "deleted_at")
    return {(name, etag): deleted for name, etag, deleted in taken}


def _take_blob(
    container: ContainerClient, resource: str, blob: BlobProperties, tally: Tally
) -> bool:
    """Take one blob; False when it stays pending (it could not be read or stored)."""
    etag = _etag(blob.etag)
    try:
        data = container.download_blob(
            blob.name, etag=blob.etag, match_condition=MatchConditions.IfNotModified
        ).readall()
        kinds = _store_blob(resource, blob.name, etag, data)
    except (ResourceNotFoundError, ResourceModifiedError):
        # Gone or changed since the listing: another puller took and deleted it (the emulator
        # answers that with 412 as well as 404), or CRF rewrote it and the next listing shows
        # its new ETag.
        return PulledBlob.objects.filter(container=resource, name=blob.name, etag=etag).exists()
    except Exception as exc:
        log.warning("Blob %s left for a later run: %s", blob.name, describe(exc))
        tally.fail(f"blob {blob.name}", exc)
        return False
    if kinds is None:
        return True  # another puller claimed it first
    for kind in kinds:
        tally.count(kind)
    if settings.CRF_AZURE_BLOB_DELETE:
        _delete_blob(container, resource, blob.name, etag)
    return True


@transaction.atomic
def _store_blob(resource: str, name: str, etag: str, data: bytes) -> list[str] | None:
    """Claim the blob in the ledger and store its leads in one transaction.

    Two pullers may both download a blob; the ledger's unique constraint lets one claim it (on
    PostgreSQL the second waits for the first to commit), and the other stores nothing.
    Returns what each lead became; None when another puller had it.
    """
    try:
        with transaction.atomic():
            entry = PulledBlob.objects.create(container=resource, name=name, etag=etag)
    except IntegrityError:
        return None
    bodies = split_leads(data)
    headers = {"azure-container": resource, "azure-blob": name, "azure-etag": etag}
    kinds = [
        receive(body, {**headers, "azure-blob-item": f"{i} of {len(bodies)}"}, AZURE_BLOB)
        for i, body in enumerate(bodies, start=1)
    ]
    PulledBlob.objects.filter(pk=entry.pk).update(leads=len(bodies))
    return kinds


def split_leads(data: bytes) -> list[bytes]:
    """A blob holds one lead or a JSON array of leads; each lead keeps its bytes as they came
    (re-serialising would change numbers and the body hash that recognises a re-delivery)."""
    try:
        text = data.decode()
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return [data]  # receive_lead keeps it as a rejected delivery
    if not isinstance(parsed, list):
        return [data]
    decoder, items, position = json.JSONDecoder(), [], text.index("[") + 1
    for _ in parsed:  # the array is valid JSON: between items there are only commas and spaces
        while text[position] in ", \t\r\n":
            position += 1
        _, end = decoder.raw_decode(text, position)
        items.append(text[position:end].encode())
        position = end
    return items


def _delete_blob(container: ContainerClient, resource: str, name: str, etag: str) -> None:
    """Only the version that was taken: one CRF rewrote since stays for the next run."""
    try:
        container.delete_blob(name, etag=etag, match_condition=MatchConditions.IfNotModified)
    except ResourceNotFoundError:
        pass  # another puller deleted it
    except HttpResponseError as exc:
        log.warning("Blob %s taken but not deleted: %s", name, describe(exc))
        return
    PulledBlob.objects.filter(container=resource, name=name, etag=etag).update(
        deleted_at=timezone.now()
    )


def _etag(etag: str) -> str:
    return etag.strip('"')  # listings give it bare, downloads quoted

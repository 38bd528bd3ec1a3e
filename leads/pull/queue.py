"""Pulling CRF leads from an Azure Storage queue
(docs/contract.md#6-pulling-leads-from-azure-storage).

Messages are received a page at a time and hidden from other pullers for the visibility timeout;
each is deleted only once the delivery it became has committed. A puller that dies leaves what it
held to come back, and what comes back is recognised by its message id
(`delivery_queue_message_uniq`).
"""

import base64
import binascii
import json
import logging

from azure.core.exceptions import HttpResponseError
from azure.storage.queue import ExponentialRetry as QueueRetry
from azure.storage.queue import QueueClient, QueueMessage
from django.conf import settings

from leads.intake import services

from . import sas
from .base import AZURE_QUEUE, REJECTED, RETRY, Tally, describe, receive

log = logging.getLogger(__name__)

QUEUE_BATCH = 32  # the most one Get Messages call returns
POISON_AFTER = 5  # a message that has come back this many times is set aside, not retried
QUEUE_RUN_LIMIT = 5000  # messages per run: a queue that never empties still lets a run end


class Undecodable(ValueError):
    pass


def pull_queue(target: sas.SasUrl, tally: Tally) -> None:
    queue = QueueClient.from_queue_url(target.url, retry_policy=QueueRetry(**RETRY))
    messages = queue.receive_messages(
        messages_per_page=QUEUE_BATCH,
        visibility_timeout=settings.CRF_AZURE_VISIBILITY_TIMEOUT,
        max_messages=QUEUE_RUN_LIMIT,
    )
    # Each page is hidden from other pullers for the visibility timeout when it is received;
    # one that is not deleted in time (a crash) comes back to whichever puller asks next.
    for message in messages:
        if _take_message(message, target.resource, tally):
            _delete_message(queue, message)
    tally.pending = queue.get_queue_properties().approximate_message_count


def _take_message(message: QueueMessage, resource: str, tally: Tally) -> bool:
    """Store one message as a delivery; True once it has committed and may be deleted."""
    # The id is in the headers for people reading the delivery; the intake keeps it in a column of
    # its own, which tells a message taken again from one that only carries the same lead.
    headers = {
        "azure-queue": resource,
        "azure-message-id": message.id,
        "azure-dequeue-count": str(message.dequeue_count),
        "azure-inserted-on": message.inserted_on.isoformat() if message.inserted_on else "",
    }
    try:
        tally.count(_store_message(message, headers))
    except Exception as exc:  # left in the queue: it comes back after the visibility timeout
        log.warning("Queue message %s left for a later run: %s", message.id, describe(exc))
        tally.fail(f"message {message.id}", exc)
        return False
    return True


def _store_message(message: QueueMessage, headers: dict) -> str:
    content, dequeue_count = message.content or "", message.dequeue_count or 0
    if dequeue_count > POISON_AFTER:
        error = f"Set aside as poison: taken {dequeue_count} times and never deleted."
        return _reject(content, error, message.id, headers)
    try:
        body, encoding = decode_message(content)
    except Undecodable as exc:
        return _reject(content, str(exc), message.id, headers)
    headers = {**headers, "azure-body-encoding": encoding}
    return receive(body, headers, AZURE_QUEUE, queue_message_id=message.id)


def _reject(content: str, error: str, message_id: str, headers: dict) -> str:
    services.reject_delivery(
        content.encode(), error, source=AZURE_QUEUE, headers=headers, queue_message_id=message_id
    )
    return REJECTED


def decode_message(content: str) -> tuple[bytes, str]:
    """A message body is JSON as is, or base64-encoded JSON (what older Azure SDKs send)."""
    plain = content.encode()
    if _is_json(plain):
        return plain, "plain"
    try:
        decoded = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise Undecodable("The message is neither JSON nor base64-encoded JSON.") from None
    if not _is_json(decoded):
        raise Undecodable("The message is base64, but what it encodes is not JSON.")
    return decoded, "base64"


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


def _delete_message(queue: QueueClient, message: QueueMessage) -> None:
    try:
        queue.delete_message(message)
    except HttpResponseError as exc:
        # Its visibility timeout ran out and another puller holds it now, or it is gone. Either
        # way the delivery is stored: whoever takes it next finds it stored and deletes it.
        log.warning("Queue message %s stored but not deleted: %s", message.id, describe(exc))

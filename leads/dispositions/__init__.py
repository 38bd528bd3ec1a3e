"""Dispositions: the statuses staff set on a lead, written back to CRF's Lead Management API
through an outbox (docs/contract.md#16-dispositions)."""

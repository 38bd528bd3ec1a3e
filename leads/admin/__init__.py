"""The lead admin, a module per page group; importing each registers its models (Django
autodiscovers this package as `leads.admin`)."""

from . import catalog, deliveries, dispositions, exports, leads, pulls, routing  # noqa: F401

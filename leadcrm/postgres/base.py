"""Django's PostgreSQL backend, with a health check that costs no round trip.

CONN_HEALTH_CHECKS makes Django check a kept connection before a request (or a task) uses it
again, so that one the server ended meanwhile (a restart, a failover, an administrator) is
replaced instead of failing the request. Django checks with `SELECT 1`: a round trip to the
server before every webhook's one INSERT, a sixth of its time. An idle connection has nothing to
read, unless the server has ended it: its last message and the closed socket are what make it
readable. So that is looked at instead, without waiting.
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.pgconn.status != pq.ConnStatus.OK:
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:
            return False  # left in a transaction between requests: closed, so rolled back
        poller = select.poll()  # not select(): a busy process's descriptor may be past 1024
        try:
            poller.register(connection.fileno(), select.POLLIN)
        except (OSError, ValueError):  # no longer a socket
            return False
        return not poller.poll(0)  # readable, hung up or in error: ended

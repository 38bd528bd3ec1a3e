"""A mail backend for races between senders: each sender is held at its first email until every
sender has reached an email or finished, so no send (nor the record of it) comes before another
sender has read the row. Emails land in `django.core.mail.outbox`, as with the locmem backend."""

import threading

from django.core.mail.backends import locmem


class Rendezvous:
    def __init__(self, parties: int) -> None:
        self.parties, self.arrived = parties, set()
        self.condition = threading.Condition()

    def arrive(self, *, wait: bool) -> None:
        with self.condition:
            self.arrived.add(threading.get_ident())
            self.condition.notify_all()
            if wait:  # bounded: a sender that never comes must not hang the test run
                self.condition.wait_for(lambda: len(self.arrived) >= self.parties, timeout=10)


RENDEZVOUS = Rendezvous(2)


class RendezvousBackend(locmem.EmailBackend):
    def send_messages(self, messages):
        RENDEZVOUS.arrive(wait=True)
        return super().send_messages(messages)

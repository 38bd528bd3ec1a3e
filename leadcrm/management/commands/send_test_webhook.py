"""`send_test_webhook`: post a sample delivery to a running LeadCRM, as the partner would.

Each app that has a webhook adds a target in its `webhook_sample` module (its options and how to
build the request); the posting and printing are shared.
"""

import json
import urllib.error
import urllib.request

from django.core.management.base import BaseCommand, CommandError

from leadcrm import plugins
from leadcrm.samples import Post

TIMEOUT_SECONDS = 10


class Command(BaseCommand):
    help = "Post a sample delivery to a running instance and print the answer."

    def add_arguments(self, parser):
        targets = parser.add_subparsers(dest="target", required=True, title="targets")
        for target in plugins.each("webhook_sample"):
            sub = targets.add_parser(target.NAME, help=target.HELP)
            target.add_arguments(sub)
            sub.set_defaults(build=target.build)

    def handle(self, *args, build, **options):
        post = build(options)
        status, answer = _send(post)
        self.stdout.write(f"HTTP {status} from {post.url}")
        self.stdout.write(_pretty(answer))
        if status == 401:
            raise CommandError(
                "Refused (HTTP 401): does the server use the same credentials (.env)?"
            )
        if status >= 400:
            raise CommandError(f"The server refused the delivery (HTTP {status}).")


def _send(post: Post) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", "User-Agent": "LeadCRM send_test_webhook"}
    request = urllib.request.Request(
        post.url, data=post.body, headers={**headers, **post.headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:  # 4xx/5xx still carry the JSON answer
        return exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CommandError(
            f"Could not reach {post.url} ({reason}). Is the server running? Try `make run`."
        ) from None


def _pretty(answer: bytes) -> str:
    try:
        return json.dumps(json.loads(answer), indent=2, ensure_ascii=False)
    except ValueError:
        return answer.decode("utf-8", errors="replace")

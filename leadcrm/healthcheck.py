"""`python -m leadcrm.healthcheck [URL]`: the container's health check. Exits 0 when /healthz/
answers 200, 1 otherwise.

It asks with the first of ALLOWED_HOSTS as its Host: Django refuses any other host with a 400,
so a check of http://127.0.0.1:8000/ would fail whatever the service's health.
"""

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz/"


def main(url: str = DEFAULT_URL) -> int:
    hosts = [
        host.strip() for host in os.environ.get("ALLOWED_HOSTS", "").split(",") if host.strip()
    ]
    host = hosts[0].lstrip(".") if hosts and hosts[0] != "*" else "localhost"
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url} (Host {host}): {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))

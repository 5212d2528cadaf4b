#!/usr/bin/env python3
"""Container health check of both Chathub services: exit 0 when ``/healthz`` answers 200.

The port is ``METRICS_PORT`` when set; otherwise each service's default (datemaker 9101, bot 9102)
is tried, so the one image checks either process without knowing which one it runs.
Standard library only: the image needs no curl.
"""

import os
import sys
import urllib.error
import urllib.request

DEFAULT_PORTS = ("9101", "9102")


def healthy(port: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def main() -> int:
    configured = os.environ.get("METRICS_PORT", "").strip()
    ports = (configured,) if configured else DEFAULT_PORTS
    return 0 if any(healthy(port) for port in ports) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Tools some tests use beyond Python packages: Prometheus and promtool (Debian's `prometheus` package).
# Best effort: where they cannot be installed, those tests skip and say why.
set -u
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "Installing Debian's prometheus package (prometheus, promtool) for the metrics tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) \
    >/dev/null 2>&1 || echo "Could not install prometheus; the tests that need it will be skipped." >&2
  # The package may start its own server; the tests run their own.
  pkill -x prometheus >/dev/null 2>&1 || true
else
  echo "prometheus/promtool not found and cannot be installed here; the tests that need them will be skipped." >&2
fi
exit 0

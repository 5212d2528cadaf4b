#!/usr/bin/env bash
# Tools some tests use beyond Python packages: Prometheus and promtool (Debian's `prometheus` package), and a
# headless Chromium with its WebDriver for the Mini App's browser test (Debian's `chromium`, `chromium-driver`).
# Best effort: where they cannot be installed, those tests skip and say why.
#
# The package would start its own Prometheus service; the tests run their own, and this script stops nothing
# it did not start. For the length of the apt-get a policy-rc.d denies service starts (a policy-rc.d already
# on the machine is left as it is). Should the service start anyway, only the Prometheus processes that
# appeared during the install and run as the package's service account (`prometheus`) are stopped: any other
# Prometheus on the machine, a test run's included, is left alone.
set -u
chromium_ok() { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }
if ! chromium_ok; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "Installing Debian's chromium and chromium-driver for the Mini App's browser test..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium chromium-driver) >/dev/null 2>&1 || echo "Could not install chromium; the browser test will be skipped." >&2
  else
    echo "chromium/chromedriver not found and cannot be installed here; the browser test will be skipped." >&2
  fi
fi
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != "0" ]; then
  echo "prometheus/promtool not found and cannot be installed here; the tests that need them will be skipped." >&2
  exit 0
fi

service_pids() {  # the package's service runs as user prometheus (the user does not exist before the install)
  pgrep -x -u prometheus prometheus 2>/dev/null | sort
}

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  trap 'rm -f "$policy"' EXIT
  printf '#!/bin/sh\n# scripts/ensure-tools.sh: no service starts during its apt-get (removed after it)\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
else
  policy=""  # not ours: neither replaced nor removed
fi
before=$(service_pids)
echo "Installing Debian's prometheus package (prometheus, promtool) for the metrics tests..."
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) \
  >/dev/null 2>&1 || echo "Could not install prometheus; the tests that need it will be skipped." >&2
if [ -n "$policy" ]; then
  rm -f "$policy"
fi
for pid in $(comm -13 <(printf '%s\n' "$before") <(service_pids)); do
  echo "Stopping the Prometheus service the package started (pid $pid); the tests run their own."
  kill "$pid" 2>/dev/null || true
done
exit 0

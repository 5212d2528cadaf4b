#!/usr/bin/env bash
# The suite, as `make test` runs it. With arguments: pytest with them, nothing else.
#
# Without: the end-to-end tests that mostly wait on compressed nights (timers, not CPU) run in a second pytest
# process beside the unit and integration tests, which saves minutes on two cores. Each pytest process has a
# run of its own (database, exchange, queues and Redis keys named after a random run id), so the two never share
# state. Then, alone: the tests whose timing is the point or that start many processes (the Meet quota's, the
# demo's), and last those that restart the machine's PostgreSQL and RabbitMQ.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ "$#" -gt 0 ]; then
    exec "$PY" -m pytest "$@"
fi

log=$(mktemp -t chathub-e2e.XXXXXX.log)
trap 'rm -f "$log"' EXIT
ALONE=(tests/e2e/test_meet_quota.py tests/e2e/test_demo.py)
"$PY" -m pytest tests/e2e --ignore=tests/e2e/test_restarts.py "${ALONE[@]/#/--ignore=}" >"$log" 2>&1 &
e2e=$!
"$PY" -m pytest tests/unit tests/integration
rest=$?
wait "$e2e"
ends=$?
echo
echo "=== end-to-end tests (run beside the others) ==="
cat "$log"
echo
echo "=== alone: the Meet quota's and the demo's, then the machine's services restarted ==="
"$PY" -m pytest "${ALONE[@]}" tests/e2e/test_restarts.py
alone=$?
echo
echo "unit and integration: exit $rest; end-to-end beside them: exit $ends; alone: exit $alone"
[ "$rest" -eq 0 ] && [ "$ends" -eq 0 ] && [ "$alone" -eq 0 ]

#!/usr/bin/env bash
# Make sure PostgreSQL, RabbitMQ and Redis answer on localhost; start the Debian services when they are
# installed but stopped (Redis: installed with apt-get when absent and we are root). Exits non-zero with
# instructions when a service is absent.
set -u
PG_HOST=${POSTGRES_HOST:-127.0.0.1}
PG_PORT=${POSTGRES_PORT:-5432}
MQ_HOST=${RABBITMQ_HOST:-127.0.0.1}
MQ_PORT=${RABBITMQ_PORT:-5672}
REDIS_HOST=127.0.0.1
REDIS_PORT=6379

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {  # host port seconds
  for _ in $(seq 1 "$3"); do port_open "$1" "$2" && return 0; sleep 1; done
  return 1
}

ensure_postgres() {
  port_open "$PG_HOST" "$PG_PORT" && return 0
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is not answering on $PG_HOST:$PG_PORT; starting the local cluster..."
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    wait_port "$PG_HOST" "$PG_PORT" 30 && return 0
  fi
  echo "PostgreSQL is not reachable on $PG_HOST:$PG_PORT." >&2
  echo "  Debian: apt-get install postgresql && pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
  echo "  Docker: docker compose -f docker/compose.yaml up -d postgres" >&2
  return 1
}

ensure_rabbitmq() {
  port_open "$MQ_HOST" "$MQ_PORT" && return 0
  if command -v rabbitmq-server >/dev/null 2>&1; then
    echo "RabbitMQ is not answering on $MQ_HOST:$MQ_PORT; starting it..."
    rabbitmq-server -detached || true
    wait_port "$MQ_HOST" "$MQ_PORT" 60 && return 0
  fi
  echo "RabbitMQ is not reachable on $MQ_HOST:$MQ_PORT." >&2
  echo "  Debian: apt-get install rabbitmq-server && rabbitmq-server -detached" >&2
  echo "  Docker: docker compose -f docker/compose.yaml up -d rabbitmq" >&2
  return 1
}

ensure_redis() {  # the bot's dialogs and pending requests (REDIS_URL, default redis://127.0.0.1:6379/0)
  port_open "$REDIS_HOST" "$REDIS_PORT" && return 0
  if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Redis is not installed; installing Debian's redis-server..."
    (apt-get install -y -q redis-server >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q redis-server >/dev/null 2>&1; }) || true
  fi
  if command -v redis-server >/dev/null 2>&1; then
    echo "Redis is not answering on $REDIS_HOST:$REDIS_PORT; starting it..."
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save "" --appendonly no >/dev/null || true
    wait_port "$REDIS_HOST" "$REDIS_PORT" 20 && return 0
  fi
  echo "Redis is not reachable on $REDIS_HOST:$REDIS_PORT." >&2
  echo "  Debian: apt-get install redis-server && redis-server --daemonize yes" >&2
  echo "  Docker: docker compose -f docker/compose.yaml up -d redis" >&2
  return 1
}

status=0
ensure_postgres || status=1
ensure_rabbitmq || status=1
ensure_redis || status=1
exit $status

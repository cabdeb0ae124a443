#!/usr/bin/env bash
# Make sure the PostgreSQL and NATS JetStream servers the tests use are up on 127.0.0.1.
set -uo pipefail
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {
  for _ in $(seq 1 100); do up "$1" && return 0; sleep 0.2; done
  echo "service on port $1 did not come up" >&2; return 1
}
if [ -z "${VIGIL_TEST_POSTGRES:-}" ] && ! up 5432; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  wait_for 5432 || exit 1
fi
if [ -z "${VIGIL_TEST_NATS:-}" ] && ! up 4222; then
  if [ -x /usr/sbin/nats-server ]; then
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
  fi
  wait_for 4222 || exit 1
fi
exit 0

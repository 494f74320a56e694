#!/usr/bin/env bash
# Prepares this machine for the test suites (the first step of `npm test`), then returns:
#   - installs Debian's nginx (the reverse-proxy e2e test runs a real one) and Debian's chromium (browser
#     tests drive /usr/bin/chromium) when they are missing and this runs as root: one `apt-get update`,
#     then one non-interactive install; no browser is ever downloaded by any other means;
#   - starts Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432) when they are installed but down.
# Without root, or without apt-get, a missing package is reported and the run goes on; the suite that
# needs it then fails with its own message. Never reads stdin (CI=true runs have none).
set -uo pipefail

log() { printf 'test-prep: %s\n' "$*"; }

is_root() { [ "$(id -u)" = "0" ]; }

have_nginx() {
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || [ -x /usr/bin/nginx ]
}

have_chromium() { [ -x /usr/bin/chromium ]; }

# True when something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp, no client tools needed).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

wait_port() {
  local port=$1 tries=50
  while ! port_open "$port"; do
    tries=$((tries - 1))
    [ "$tries" -le 0 ] && return 1
    sleep 0.2
  done
}

# --- packages --------------------------------------------------------------------------------------
missing=()
have_nginx || missing+=(nginx)
have_chromium || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  if ! is_root; then
    log "missing: ${missing[*]} (not root, not installing; install them with apt-get as root)"
  elif ! command -v apt-get >/dev/null 2>&1; then
    log "missing: ${missing[*]} (no apt-get on this machine; install them yourself)"
  else
    log "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq </dev/null &&
      apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null; then
      log "installed ${missing[*]}"
    else
      log "apt-get could not install ${missing[*]}; the suites that need them will fail"
    fi
  fi
fi

# --- services --------------------------------------------------------------------------------------
if ! port_open 6379 && command -v redis-server >/dev/null 2>&1; then
  log "starting Redis on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log </dev/null ||
    log "redis-server did not start"
  wait_port 6379 || log "Redis is still not answering on 6379"
fi

if ! port_open 5432 && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | head -n 1)
  if [ -n "$version" ]; then
    log "starting PostgreSQL $version/main on 127.0.0.1:5432"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start </dev/null ||
      log "pg_ctlcluster did not start PostgreSQL"
    wait_port 5432 || log "PostgreSQL is still not answering on 5432"
  fi
fi

exit 0

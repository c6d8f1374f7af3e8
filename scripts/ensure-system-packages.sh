#!/usr/bin/env bash
# Installs the Debian packages the integration tests need (real PostgreSQL 15, OpenSSH, iptables,
# HAProxy for the health-check test, pgbouncer for the connection failover test, openssl for its test certificates,
# Chromium for the dashboard's browser tests, etcd (server and etcdctl) for the consensus store
# and leadership tests)
# when any is missing. Idempotent and quick when everything is present; runs as root, no stdin.
# `ensure-system-packages.sh demo` (what `npm start` runs): only PostgreSQL, and nothing that
# needs root when it is already installed, so a normal user can run the demo.
set -euo pipefail
mode="${1:-test}"

pg_bin=/usr/lib/postgresql/15/bin
missing=()
need() { # need <package> <file>...: queue the package when any of its files is absent
  local pkg=$1; shift
  for f in "$@"; do
    if [[ ! -x $f ]]; then missing+=("$pkg"); return; fi
  done
}
need postgresql-15 "$pg_bin/postgres" "$pg_bin/initdb" "$pg_bin/pg_ctl" "$pg_bin/pg_basebackup" "$pg_bin/pg_rewind"
need postgresql-client-15 "$pg_bin/psql" "$pg_bin/pg_isready" /usr/bin/psql /usr/bin/pg_isready
if [[ $mode != demo ]]; then
need openssh-server /usr/sbin/sshd
need openssh-client /usr/bin/ssh /usr/bin/ssh-keygen
need iptables /usr/sbin/iptables
need haproxy /usr/sbin/haproxy
need pgbouncer /usr/sbin/pgbouncer
need openssl /usr/bin/openssl
need rsync /usr/bin/rsync
need chromium /usr/bin/chromium
need etcd-server /usr/bin/etcd
need etcd-client /usr/bin/etcdctl
fi

did=()
if (( ${#missing[@]} > 0 )); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "ensure-system-packages: missing ${missing[*]} and not root; install them first" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
  did+=("installed ${missing[*]}")
fi

# sshd refuses to start without its privilege separation directory (normally made by systemd).
if [[ $mode != demo && ! -d /run/sshd ]]; then
  mkdir -p -m 0755 /run/sshd
  did+=("created /run/sshd")
fi

# The tests log in over SSH as postgres, which needs a real shell (postgresql-common gives it
# /bin/bash; a hand-made system user may have nologin).
shell=$(getent passwd postgres | cut -d: -f7 || true)
if [[ $mode != demo && -n $shell && ( $shell == */nologin || $shell == */false ) ]]; then
  usermod -s /bin/bash postgres
  did+=("set the postgres shell to /bin/bash (was $shell)")
fi

if (( ${#did[@]} > 0 )); then
  printf -v joined '%s; ' "${did[@]}"
  echo "ensure-system-packages: ${joined%; }"
else
  echo "ensure-system-packages: all present"
fi

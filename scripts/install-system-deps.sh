#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the local platform and the tests need.
# Idempotent: installs only what is missing, runs `apt-get update` only then.
# Not root: prints the exact command to run and exits 1.
set -euo pipefail

packages=(
  etcd-server etcd-client patroni python3-etcd python3-psycopg2
  haproxy redis-server pgbackrest postgresql postgresql-contrib
  python3-venv util-linux iproute2 openssl procps ca-certificates chromium
  openjdk-17-jre-headless
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "system packages: all ${#packages[@]} present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "system packages missing: ${missing[*]}" >&2
  echo "run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps Debian's maintainer scripts from starting the daemons:
# the harness starts its own copies on ports it picks.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1
fi
trap '[[ $created_policy == 1 ]] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}"

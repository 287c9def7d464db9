#!/usr/bin/env bash
# Configure the district's coturn from installer/coturn/turnserver.conf:
#   installer/coturn/configure.sh REALM [SECRET_FILE]
# REALM is the TURN server's DNS name (turn.district.example). SECRET_FILE (default
# /etc/doorstep/turn/secret) holds the REST secret the district mints credentials with
# (DISTRICT_TURN_SECRET_FILE); it is made, 32 random bytes in hex, when it does not exist.
# Writes /etc/turnserver.conf (root:turnserver 0640: it holds the secret) and enables the
# Debian service. Put the TLS certificate at /etc/doorstep/turn/{fullchain,privkey}.pem.
# Needs root.
set -euo pipefail
here=$(dirname "$0")
realm=${1:?usage: $0 REALM [SECRET_FILE]}
secret_file=${2:-/etc/doorstep/turn/secret}
[[ "$realm" =~ ^[A-Za-z0-9.-]+$ ]] || { echo "REALM must be a DNS name" >&2; exit 2; }

install -d -m 0750 -g turnserver "$(dirname "$secret_file")"
if [[ ! -s "$secret_file" ]]; then
  (umask 0037; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$secret_file")
  chgrp turnserver "$secret_file"
fi
secret=$(tr -d '\n' <"$secret_file")
[[ "$secret" =~ ^[A-Za-z0-9+/=_-]+$ ]] || { echo "$secret_file: not a usable secret" >&2; exit 2; }

install -d -m 0750 -o turnserver -g turnserver /var/log/turnserver /run/turnserver
conf=$(mktemp /etc/turnserver.conf.XXXXXX)
trap 'rm -f "$conf"' EXIT
sed -e "s|@TURN_SECRET@|$secret|" -e "s|@TURN_REALM@|$realm|" "$here/turnserver.conf" >"$conf"
chown root:turnserver "$conf"
chmod 0640 "$conf"
mv "$conf" /etc/turnserver.conf
trap - EXIT

if command -v systemctl >/dev/null; then
  systemctl enable --now coturn
  systemctl restart coturn
fi
echo "coturn configured for $realm; the district needs DISTRICT_TURN_SECRET_FILE=$secret_file"

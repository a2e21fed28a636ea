#!/usr/bin/env bash
# The real peers the interop tests run against (ejabberd, Prosody with its modules, Postfix,
# Dovecot's IMAP server, Apache with mod_auth_openidc, Chromium, slixmpp) and what the example
# scripts and the connectors need (Python 3, Perl, a C compiler), from Debian's packages. `npm test` runs this
# first: what is installed is found and nothing
# is done; what is missing is installed with apt-get when this runs as root (or with a sudo
# that needs no password), else the missing packages are named and the tests do not start.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

WITH_RECOMMENDS=(python3 perl ca-certificates ejabberd python3-slixmpp chromium)
WITHOUT_RECOMMENDS=(gcc libc6-dev prosody prosody-modules postfix dovecot-core dovecot-imapd apache2 libapache2-mod-auth-openidc)

missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

if ! command -v dpkg-query >/dev/null; then
  echo "peers: not a Debian system; install these (or their equivalents) for the interop tests: ${WITH_RECOMMENDS[*]} ${WITHOUT_RECOMMENDS[*]}" >&2
  exit 1
fi
mapfile -t need < <(missing "${WITH_RECOMMENDS[@]}")
mapfile -t need_bare < <(missing "${WITHOUT_RECOMMENDS[@]}")
if [ ${#need[@]} -eq 0 ] && [ ${#need_bare[@]} -eq 0 ]; then
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "peers: the interop tests need these Debian packages, not installed: ${need[*]} ${need_bare[*]}" >&2
    echo "peers: install them as root (sudo apt-get install ${need[*]} ${need_bare[*]}), or run \`bash .ci/run\` as root" >&2
    exit 1
  fi
fi
echo "peers: installing ${need[*]} ${need_bare[*]}" >&2

# Services must not start on install (without a policy-rc.d, invoke-rc.d would start them):
# the tests run private instances on loopback ports of their own.
created_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${as_root[@]}" chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
# Postfix asks its mailer type at install: none, so it writes no system config of its own.
printf '%s\n' "postfix postfix/main_mailer_type select No configuration" "postfix postfix/mailname string localhost" | "${as_root[@]}" debconf-set-selections
"${as_root[@]}" apt-get update -qq
if [ ${#need[@]} -gt 0 ]; then "${as_root[@]}" apt-get install -y -qq "${need[@]}" >/dev/null; fi
if [ ${#need_bare[@]} -gt 0 ]; then "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${need_bare[@]}" >/dev/null; fi
[ -n "$created_policy" ] && "${as_root[@]}" rm -f /usr/sbin/policy-rc.d
# Should a system instance be running anyway, it is not ours to use.
"${as_root[@]}" ejabberdctl stop >/dev/null 2>&1 || true
"${as_root[@]}" /etc/init.d/prosody stop >/dev/null 2>&1 || true
"${as_root[@]}" postfix stop >/dev/null 2>&1 || true
"${as_root[@]}" doveadm stop >/dev/null 2>&1 || true
"${as_root[@]}" apache2ctl stop >/dev/null 2>&1 || true
echo "peers: installed" >&2

#!/usr/bin/env bash
# Installs the Debian packages zumero needs to build, test and run, if any are missing,
# plus any packages named as arguments (scripts/fuzz.sh adds clang and its runtimes).
set -euo pipefail
packages=(build-essential cmake pkg-config sqlite3 libsqlite3-dev libcurl4-openssl-dev
          nlohmann-json3-dev zlib1g-dev catch2 libcpp-httplib-dev libssl-dev libgit2-dev
          libcrypt-dev libcli11-dev libsodium-dev libpq-dev postgresql python3 openssl curl "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing missing packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

#!/bin/bash
# Checks the deployment files as far as a machine without a Docker engine and without
# a running systemd allows:
#   - the systemd unit with `systemd-analyze verify` (with ExecStart pointed at the
#     given binary, since /usr/local/bin/zumero-server is not installed here) and its
#     exposure with `systemd-analyze security --offline=yes`;
#   - the Dockerfile: its RUN commands with shellcheck, the files it copies, a Debian 12
#     base, a non-root USER, the volumes;
#   - compose.yaml: parsed, volumes, TLS mount, secret and ZUMERO_ADMIN_PASSWORD_FILE,
#     metrics published on loopback only;
#   - both example config files: a real server starts with each (paths and addresses
#     overridden on the command line, as the command line wins over the file);
#   - with --build: the Dockerfile's build stage commands run for real (install-deps,
#     configure without tests, build zumero-server) in a scratch build directory, and
#     the runtime stage's packages exist in the Debian archive.
#
#   deploy/check.sh SERVER_BINARY [--build]
#
# Exits 0 when everything that could be checked passed, 1 otherwise. A check whose
# tool is missing is reported as not run.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
server_bin=$(realpath "${1:?usage: deploy/check.sh SERVER_BINARY [--build]}")
build_too=${2:-}
failures=0
scratch=$(mktemp -d)
server_pid=
# shellcheck disable=SC2317  # run by the trap
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

pass() { echo "ok: $*"; }
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
not_run() { echo "not checked: $*"; }

# --- systemd unit ------------------------------------------------------------------
unit=$here/zumero-server.service
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$scratch/unit"
  sed "s#/usr/local/bin/zumero-server#$server_bin#" "$unit" >"$scratch/unit/zumero-server.service"
  if output=$(systemd-analyze verify "$scratch/unit/zumero-server.service" 2>&1) && [ -z "$output" ]; then
    pass "systemd-analyze verify zumero-server.service"
  else
    fail "systemd-analyze verify: $output"
  fi
  exposure=$(systemd-analyze security --offline=yes "$scratch/unit/zumero-server.service" 2>&1 |
    sed -n 's/.*Overall exposure level for zumero-server.service: \([0-9.]*\).*/\1/p')
  if [ -n "$exposure" ] && awk "BEGIN { exit !($exposure <= 2.0) }"; then
    pass "systemd-analyze security: exposure $exposure"
  else
    fail "systemd-analyze security: exposure '${exposure:-unknown}', expected at most 2.0"
  fi
else
  not_run "the systemd unit (no systemd-analyze)"
fi
for setting in 'User=zumero' 'StateDirectory=zumero' 'ReadWritePaths=/var/backups/zumero' 'ProtectSystem=strict' \
  'LoadCredential=admin-password:' 'Environment=ZUMERO_ADMIN_PASSWORD_FILE=%d/admin-password' 'NoNewPrivileges=yes'; do
  grep -q "^$setting" "$unit" || fail "the unit lacks $setting"
done

# --- Dockerfile ----------------------------------------------------------------------
dockerfile=$here/Dockerfile
# Each RUN instruction, continuation lines joined, as one shell script.
awk '
  /^RUN / { line = substr($0, 5); running = 1 }
  running && !/^RUN / { line = line "\n" $0 }
  running && !/\\$/ { print line "\n"; running = 0 }
' "$dockerfile" >"$scratch/run-commands.body"
{
  echo '#!/bin/bash'
  echo 'set -e'
  cat "$scratch/run-commands.body"
} >"$scratch/run-commands.sh"
if [ "$(grep -c '^RUN ' "$dockerfile")" -lt 3 ]; then fail "the Dockerfile has fewer RUN steps than expected"; fi
if command -v shellcheck >/dev/null; then
  if output=$(shellcheck -s bash "$scratch/run-commands.sh" 2>&1); then
    pass "shellcheck of the Dockerfile's RUN commands"
  else
    fail "shellcheck of the Dockerfile's RUN commands:"$'\n'"$output"
  fi
else
  if bash -n "$scratch/run-commands.sh"; then
    pass "bash -n of the Dockerfile's RUN commands (no shellcheck)"
  else
    fail "the Dockerfile's RUN commands do not parse"
  fi
fi
bases=$(grep -c '^FROM debian:12' "$dockerfile")
if [ "$bases" -eq "$(grep -c '^FROM ' "$dockerfile")" ]; then
  pass "every stage is Debian 12"
else
  fail "a stage is not Debian 12"
fi
while read -r source; do
  [ "$source" = . ] && continue
  [ -e "$root/$source" ] || fail "the Dockerfile copies $source, which does not exist"
done < <(sed -n 's/^COPY \([^-][^ ]*\) .*/\1/p' "$dockerfile")
user=$(sed -n 's/^USER //p' "$dockerfile" | tail -n 1)
if [ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ]; then
  pass "runs as $user"
else
  fail "the image runs as root"
fi
if grep -q '^VOLUME \["/var/lib/zumero", "/var/backups/zumero"\]' "$dockerfile"; then
  pass "data and backup volumes"
else
  fail "the Dockerfile lacks the data and backup volumes"
fi

# --- compose.yaml --------------------------------------------------------------------
if python3 -c 'import yaml' 2>/dev/null; then
  if output=$(python3 - "$here/compose.yaml" "$root" <<'EOF' 2>&1
import os, sys, yaml

compose = yaml.safe_load(open(sys.argv[1]))
root = sys.argv[2]
service = compose['services']['zumero-server']
problems = []
build = service['build']
if not os.path.exists(os.path.join(os.path.dirname(sys.argv[1]), build['context'], build['dockerfile'])):
    problems.append('the build context does not hold ' + build['dockerfile'])
volumes = service['volumes']
for wanted in ('zumero-data:/var/lib/zumero', 'zumero-backups:/var/backups/zumero', './tls:/etc/zumero/tls:ro'):
    if wanted not in volumes:
        problems.append('no volume ' + wanted)
for name in ('zumero-data', 'zumero-backups'):
    if name not in compose.get('volumes', {}):
        problems.append('volume %s is not declared' % name)
secrets = service.get('secrets', [])
path = service['environment'].get('ZUMERO_ADMIN_PASSWORD_FILE', '')
if not secrets or path != '/run/secrets/' + secrets[0] or secrets[0] not in compose.get('secrets', {}):
    problems.append('ZUMERO_ADMIN_PASSWORD_FILE does not name the declared secret')
for port in service['ports']:
    if port.endswith(':9464') and not port.startswith('127.0.0.1:'):
        problems.append('the metrics port is published beyond loopback: ' + port)
if problems:
    sys.exit('\n'.join(problems))
EOF
  ); then
    pass "compose.yaml: volumes, TLS mount, secret, loopback metrics"
  else
    fail "compose.yaml: $output"
  fi
else
  not_run "compose.yaml (no python3 yaml module)"
fi

# --- the example config files --------------------------------------------------------
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout "$scratch/key.pem" \
    -out "$scratch/cert.pem" >/dev/null 2>&1 || fail "openssl could not make a test certificate"
  for config in zumero-server.conf zumero-server.docker.conf; do
    rm -rf "$scratch/data" "$scratch/out" "$scratch/err"
    "$server_bin" --config "$here/$config" --data-dir "$scratch/data" --listen 127.0.0.1:0 \
      --metrics-listen 127.0.0.1:0 --tls-cert "$scratch/cert.pem" --tls-key "$scratch/key.pem" \
      >"$scratch/out" 2>"$scratch/err" </dev/null &
    server_pid=$!
    started=
    for _ in $(seq 1 100); do
      if grep -qs '^zumero-server listening on https://' "$scratch/out"; then
        started=yes
        break
      fi
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
    if [ -n "$started" ]; then pass "the server starts with $config"; else fail "$config: $(cat "$scratch/err")"; fi
  done
else
  not_run "the example config files (no openssl for a test certificate)"
fi

# --- the Dockerfile's build, for real -----------------------------------------------
if [ "$build_too" = --build ]; then
  if (cd "$root" && bash scripts/install-deps.sh &&
    cmake -S . -B "$scratch/docker-build" -DCMAKE_BUILD_TYPE=Release -DZUMERO_BUILD_TESTS=OFF >/dev/null &&
    cmake --build "$scratch/docker-build" --target zumero-server -j 2 >/dev/null); then
    pass "the build stage's commands build zumero-server"
    if ldd "$scratch/docker-build/zumero-server" | grep -q 'not found'; then fail "the binary misses libraries"; fi
  else
    fail "the build stage's commands failed"
  fi
  packages=$(sed -n '/--no-install-recommends/,/rm -rf/p' "$dockerfile" |
    tr ' ' '\n' | grep -xE 'ca-certificates|curl|lib[a-z0-9.+-]*[a-z0-9]' | sort -u)
  for package in $packages; do
    apt-cache show "$package" >/dev/null 2>&1 || fail "the runtime package $package is not in the archive"
  done
  [ -n "$packages" ] && pass "runtime packages known to apt: $(echo "$packages" | tr '\n' ' ')"
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures deployment check(s) failed"
  exit 1
fi
echo "deployment files checked"
exit 0

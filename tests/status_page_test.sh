#!/bin/bash
# The admin status page in a real browser: starts zumero-server with some sync
# traffic, loads /status in headless Chromium (with HTTP Basic credentials in the URL,
# and again through the --metrics-listen address), checks the rendered DOM for the
# dbfiles and the chart, and checks a screenshot: a PNG of the requested size in which
# the chart's bar colour appears.
#
#   status_page_test.sh SERVER EXTENSION SQLITE3 WORK_DIR
#
# Installs Debian's chromium with apt-get when it is missing. Exits 77 (skipped) when
# it is missing and cannot be installed (not root, no network).
# ZUMERO_TEST_PRELOAD, when set, is preloaded into the sqlite3 shell only (a sanitized
# extension in an unsanitized shell), never into the browser.
set -u

server_bin=$1
extension=$2
sqlite3_bin=$3
work=$4
password='status page secret'

fail() {
  echo "FAIL: $*" >&2
  if [ -n "${server_log:-}" ] && [ -f "$server_log" ]; then
    echo "--- server log (last lines)" >&2
    tail -n 30 "$server_log" >&2
  fi
  exit 1
}

skip() {
  echo "SKIPPED: $*"
  exit 77
}

find_chromium() {
  command -v chromium || command -v chromium-browser || true
}

chromium_bin=$(find_chromium)
if [ -z "$chromium_bin" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    skip "chromium is not installed and cannot be installed here (needs root and apt-get)"
  fi
  echo "chromium is missing: installing Debian's package"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 900 apt-get install -y chromium; then
    # The package lists may be missing or stale.
    timeout 300 apt-get update && timeout 900 apt-get install -y chromium
  fi
  chromium_bin=$(find_chromium)
  [ -n "$chromium_bin" ] || skip "chromium could not be installed (no network?)"
fi
echo "browser: $chromium_bin"

rm -rf "$work"
mkdir -p "$work" || fail "cannot create $work"
server_log=$work/server.log
server_out=$work/server.out
server_pid=
# shellcheck disable=SC2317  # run by the trap
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
}
trap cleanup EXIT

"$server_bin" --data-dir "$work/data" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --admin-password "$password" >"$server_out" 2>"$server_log" &
server_pid=$!

url=
metrics_url=
for _ in $(seq 1 200); do
  url=$(sed -n 's/^zumero-server listening on \(http[^ ]*\)$/\1/p' "$server_out")
  metrics_url=$(sed -n 's/.*metrics listening on \(http[^ ]*\) .*/\1/p' "$server_log")
  [ -n "$url" ] && [ -n "$metrics_url" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited at startup"
  sleep 0.1
done
if [ -z "$url" ] || [ -z "$metrics_url" ]; then fail "the server did not start"; fi
echo "server: $url, metrics: $metrics_url"

# Traffic: two clients of one dbfile and one of another, a few syncs each.
run_sql() {
  LD_PRELOAD="${ZUMERO_TEST_PRELOAD:-}" "$sqlite3_bin" "$1" ".load $extension" "$2" >/dev/null ||
    fail "sqlite3 $1: $2"
}
sync_sql="SELECT zumero_sync('main', '$url', 'garden_journal')"
run_sql "$work/a.db" "CREATE VIRTUAL TABLE plants USING zumero (name TEXT PRIMARY KEY, height REAL);
                      INSERT INTO plants VALUES ('fern', 0.4), ('maple', 3.2); $sync_sql; $sync_sql"
run_sql "$work/b.db" "$sync_sql; UPDATE plants SET height = 0.5 WHERE name = 'fern'; $sync_sql; $sync_sql"
run_sql "$work/a.db" "INSERT INTO plants VALUES ('oak', 12); $sync_sql; $sync_sql"
run_sql "$work/c.db" "CREATE VIRTUAL TABLE readings USING zumero (at INTEGER, value REAL);
                      INSERT INTO readings VALUES (1, 2.5);
                      SELECT zumero_sync('main', '$url', 'weather_station')"

browser() {
  local profile
  profile=$(mktemp -d)
  timeout 180 "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$profile" "$@" \
    2>>"$work/chromium.log"
  local status=$?
  rm -rf "$profile"
  return $status
}

# Credentials in the URL: Chromium answers the 401 challenge with them.
authorized_url=${url/http:\/\//http:\/\/admin:${password// /%20}@}/status

check_dom() {
  local what=$1 dom=$2
  [ -s "$dom" ] || fail "$what: the browser rendered nothing"
  grep -q '<title>zumero-server status</title>' "$dom" || fail "$what: not the status page"
  for dbfile in garden_journal weather_station zumero_log; do
    grep -q "<tr class=\"dbfile\"><td class=\"wrap\">$dbfile</td>" "$dom" || fail "$what: dbfile $dbfile not listed"
  done
  grep -q '<svg id="syncs-chart"' "$dom" || fail "$what: no chart"
  local minutes bars total
  minutes=$(grep -o '<g class="minute"' "$dom" | wc -l)
  bars=$(grep -o '<rect class="bar-pull"' "$dom" | wc -l)
  if [ "$minutes" -ne 60 ] || [ "$bars" -ne 60 ]; then
    fail "$what: $minutes minutes and $bars bars in the chart, not 60"
  fi
  total=$(grep -o 'data-total="[0-9]*"' "$dom" | grep -o '[0-9][0-9]*')
  [ "${total:-0}" -ge 10 ] || fail "$what: the chart shows ${total:-no} syncs, expected at least 10"
  grep -q 'POST /push' "$dom" || fail "$what: no push among the recent requests"
}

browser --dump-dom "$authorized_url" >"$work/status.html" || fail "chromium --dump-dom failed"
check_dom "main listener with credentials" "$work/status.html"
browser --dump-dom "$metrics_url/status" >"$work/status-metrics.html" || fail "chromium --dump-dom failed"
check_dom "metrics listener" "$work/status-metrics.html"

# Without credentials the page is refused.
browser --dump-dom "$url/status" >"$work/status-anonymous.html"
if grep -q 'syncs-chart' "$work/status-anonymous.html"; then fail "the page was shown without credentials"; fi

width=1280
height=1500
browser --hide-scrollbars --window-size=$width,$height --screenshot="$work/status.png" "$authorized_url" >/dev/null ||
  fail "chromium --screenshot failed"
[ -s "$work/status.png" ] || fail "no screenshot"

# The PNG: signature, IHDR size, and pixels of the pull bars' colour (#2f81f7).
python3 - "$work/status.png" "$width" "$height" <<'EOF' || fail "the screenshot is not the page with its chart"
import struct, sys, zlib

path, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = open(path, 'rb').read()
if data[:8] != b'\x89PNG\r\n\x1a\n':
    sys.exit('not a PNG')
chunks, at = {}, 8
idat = b''
while at < len(data):
    length, kind = struct.unpack('>I4s', data[at:at + 8])
    body = data[at + 8:at + 8 + length]
    if kind == b'IDAT':
        idat += body
    else:
        chunks.setdefault(kind, body)
    at += 12 + length
w, h, depth, color = struct.unpack('>IIBB', chunks[b'IHDR'][:10])
if (w, h) != (width, height):
    sys.exit('screenshot is %dx%d, expected %dx%d' % (w, h, width, height))
if depth != 8 or color not in (2, 6):
    sys.exit('unexpected PNG format: depth %d, colour type %d' % (depth, color))
channels = 3 if color == 2 else 4
stride = w * channels
raw = zlib.decompress(idat)
previous = bytearray(stride)
bar_pixels = 0
colours = set()
for y in range(h):
    kind = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        left = line[i - channels] if i >= channels else 0
        up = previous[i]
        corner = previous[i - channels] if i >= channels else 0
        if kind == 1:
            line[i] = (line[i] + left) & 255
        elif kind == 2:
            line[i] = (line[i] + up) & 255
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 255
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
    for x in range(0, stride, channels * 4):
        r, g, b = line[x], line[x + 1], line[x + 2]
        colours.add((r, g, b))
        if abs(r - 0x2f) < 12 and abs(g - 0x81) < 12 and abs(b - 0xf7) < 12:
            bar_pixels += 1
    previous = line
if len(colours) < 8:
    sys.exit('the screenshot is nearly blank (%d colours)' % len(colours))
if bar_pixels < 20:
    sys.exit('no bars of the chart in the screenshot (%d pixels of their colour)' % bar_pixels)
print('screenshot %dx%d, %d colours sampled, %d bar pixels sampled' % (w, h, len(colours), bar_pixels))
EOF

echo "status page checked: DOM from both listeners, screenshot $work/status.png"
exit 0

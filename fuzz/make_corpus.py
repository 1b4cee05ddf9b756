#!/usr/bin/python3
"""Builds the seed corpus of the fuzz targets from real traffic and real definitions.

    /usr/bin/python3 fuzz/make_corpus.py --build build [--fuzz-build build-fuzz] [--out fuzz/corpus]

Needs Debian's interpreter (its sqlite3 module can load extensions), the extension and
the server from --build (targets zumero_ext and zumero-server).

  fuzz_envelope        request and reply bodies of a sync scenario between three clients
                       and a real zumero-server, recorded by a proxy in between: creating
                       pushes, pushes in parts, conflicts, renumbered rows, pulls in parts
                       with history, added columns, rules, and the recovery after the server
                       was restored from an older copy (/versions, restored rows). Each body
                       is stored uncompressed (so mutations reach the package) and a few as
                       sent.
  fuzz_request_header  the JSON headers of those requests
  fuzz_pull_cursor     the cursors those pulls carried and received
  fuzz_definition      the CREATE VIRTUAL TABLE arguments of the guide and the test suite
                       as written (one per line) and as the extension stores them,
                       columns added to a table, CREATE TABLE and CREATE INDEX statements

With --fuzz-build (a build of scripts/fuzz.sh), each target's libFuzzer -merge keeps only
the inputs that add coverage, so the committed corpus stays small; without it, every
recorded input is written. Each --out/<target>/ is replaced.
"""
import argparse
import hashlib
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ("fuzz_envelope", "fuzz_request_header", "fuzz_pull_cursor", "fuzz_definition")
LISTENING = "zumero-server listening on "


# ---- the server and a recording proxy in front of it -----------------------------------

class Server:
    """A zumero-server child process on 127.0.0.1 with a port it picks itself."""

    def __init__(self, binary, data_dir, log_path, extra_args):
        self.binary, self.data_dir, self.log_path, self.extra_args = binary, data_dir, log_path, extra_args
        self.process = None
        self.address = None

    def start(self):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.binary, "--listen", "127.0.0.1:0", "--data-dir", self.data_dir] + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline().decode("utf-8", "replace").strip()
            if not line:
                break
            if line.startswith(LISTENING):
                host, port = line[len(LISTENING):].split("//", 1)[1].rsplit(":", 1)
                self.address = (host, int(port.rstrip("/")))
                return
        self.process.kill()
        raise RuntimeError("zumero-server did not start; see " + self.log_path)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.process.stdout.close()


class Recorder:
    def __init__(self):
        self.exchanges = []  # (path, request body, status, reply body)
        self.lock = threading.Lock()

    def add(self, *exchange):
        with self.lock:
            self.exchanges.append(exchange)


def start_proxy(server, recorder):
    """Forwards every POST to the server as it is now and records both bodies."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            upstream = http.client.HTTPConnection(*server.address, timeout=120)
            upstream.request("POST", self.path, body=body,
                             headers={"Content-Type": self.headers.get("Content-Type", "application/octet-stream")})
            reply = upstream.getresponse()
            data = reply.read()
            content_type = reply.getheader("Content-Type")
            upstream.close()
            recorder.add(self.path, body, reply.status, data)
            self.send_response(reply.status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    return proxy, "http://127.0.0.1:%d" % proxy.server_address[1]


# ---- the sync scenario -----------------------------------------------------------------

def open_client(path, extension):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.enable_load_extension(True)
    conn.load_extension(extension)
    conn.enable_load_extension(False)
    return conn


def sync(conn, url, dbfile="corpus", *credentials):
    arguments = ("main", url, dbfile) + credentials
    marks = ", ".join("?" * len(arguments))
    for _ in range(1000):
        result = conn.execute("SELECT zumero_sync(%s)" % marks, arguments).fetchone()[0]
        if result.split(";")[0] == "0":
            return
    raise RuntimeError("zumero_sync stayed partial")


def run_scenario(server, url, work, extension):
    a = open_client(os.path.join(work, "a.db"), extension)
    b = open_client(os.path.join(work, "b.db"), extension)
    c = open_client(os.path.join(work, "c.db"), extension)

    # The guide's tables (3.6, 5.2.3, 5.2.5.3, the wiki of 7.x) and its rules.
    a.executescript("""
        CREATE VIRTUAL TABLE foo USING zumero (a text PRIMARY KEY, b integer, c integer);
        CREATE VIRTUAL TABLE bar USING zumero (* WITH_STRICT_TYPES, a INT, b TEXT, UNIQUE (a,b));
        CREATE VIRTUAL TABLE pair USING zumero (a text, b integer, c double, UNIQUE (a,b));
        CREATE VIRTUAL TABLE fixed USING zumero (x INTEGER CONSTRAINT z_ipk_no_change_on_sync PRIMARY KEY, y text);
        CREATE VIRTUAL TABLE wiki USING zumero (title text NOT NULL UNIQUE, content text NOT NULL);
        CREATE VIRTUAL TABLE items USING zumero (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT 'none',
            qty INT CHECK (qty >= 0), price REAL, data BLOB);
        SELECT zumero_define_audit_table('main');
        SELECT zumero_add_row_rule('main', 'wiki', zumero_named_constant('situation_mod_after_mod'),
            zumero_named_constant('action_column_merge'), NULL);
        SELECT zumero_add_column_rule('main', 'wiki', 'content',
            zumero_named_constant('action_attempt_text_merge') | zumero_named_constant('action_accept'), NULL);
        SELECT zumero_add_row_rule('main', NULL, zumero_named_constant('situation_del_after_mod'),
            zumero_named_constant('action_accept'), NULL);
    """)
    # Every kind of value, and identities far apart.
    a.executemany("INSERT INTO items (id, name, qty, price, data) VALUES (?, ?, ?, ?, ?)", [
        (1, "apple", 3, 0.5, b"\x00\x01\xff"),
        (2, "pear", 0, -0.0, None),
        (3, "plum", 2 ** 62, 1e300, b""),
        (1000000, "fig", None, float("inf"), b"\x80" * 40),
        (-5, "kiwi \u00e9\u4e2d", 7, 3.25, None),
    ])
    a.executemany("INSERT INTO foo (a, b, c) VALUES (?, ?, ?)", [("rose", 16, 1), ("tulip", 2, 3), ("", -1, None)])
    a.execute("INSERT INTO bar (a, b) VALUES (1, 'one')")
    a.execute("INSERT INTO pair (a, b, c) VALUES ('rose', 16, 3.14159)")
    a.execute("INSERT INTO fixed (x, y) VALUES (10, 'ten')")
    a.execute("INSERT INTO wiki (title, content) VALUES ('home', 'line one\nline two\nline three\n')")
    sync(a, url)

    # b pulls everything (in parts: the server's chunks are small), then both change it.
    sync(b, url)
    sync(c, url)
    # The guide's UNIQUE example (5.2.3): the second push breaks the constraint.
    b.execute("INSERT INTO pair (a, b, c) VALUES ('lily', 5, 1.0)")
    c.execute("INSERT INTO pair (a, b, c) VALUES ('lily', 5, 2.0)")
    sync(b, url)
    try:
        sync(c, url)
    except sqlite3.Error:
        pass
    c.execute("DELETE FROM pair WHERE a = 'lily'")
    sync(c, url)
    b.execute("UPDATE items SET qty = qty + 1 WHERE id = 1")
    b.execute("DELETE FROM items WHERE id = 2")
    b.execute("UPDATE wiki SET content = 'line one\nline 2\nline three\n'")
    b.execute("INSERT INTO items (id, name) VALUES (4, 'from b')")
    a.execute("UPDATE items SET price = 0.75 WHERE id = 1")
    a.execute("UPDATE wiki SET content = 'line one\nline two\nline 3\n'")
    a.execute("INSERT INTO items (id, name) VALUES (4, 'from a')")  # renumbered when b got there first
    a.execute("INSERT INTO fixed (x, y) VALUES (11, 'eleven')")
    sync(b, url)
    sync(a, url)
    sync(b, url)

    # A large change: the push goes in parts, the pull in many chunks.
    c.executemany("INSERT INTO items (name, qty, data) VALUES (?, ?, ?)",
                  [("bulk %d" % i, i, os.urandom(64)) for i in range(120)])
    c.execute("DELETE FROM foo WHERE a = 'tulip'")
    sync(c, url)
    sync(a, url)
    # Changed again: b's next pull carries their history in parts of its own (phase 2).
    c.execute("UPDATE items SET qty = qty + 1 WHERE name LIKE 'bulk %'")
    sync(c, url)

    # A column added on one side reaches the others as a schema entry.
    a.execute("SELECT zumero_alter_table_add_column('main', 'foo', 'd TEXT DEFAULT ''x''')")
    a.execute("UPDATE foo SET d = 'changed' WHERE a = 'rose'")
    sync(a, url, "corpus", "basic", "user", "secret")
    fresh = open_client(os.path.join(work, "d.db"), extension)
    fresh.execute("SELECT zumero_pull_without_history('main', ?, 'corpus')", (url,)).fetchone()
    fresh.close()
    sync(b, url)
    sync(c, url)

    # The server is restored from a copy taken now, after it accepted more versions.
    server.stop()
    snapshot = os.path.join(work, "snapshot")
    shutil.copytree(server.data_dir, snapshot)
    server.start()
    b.execute("UPDATE items SET name = 'lost change' WHERE id = 3")
    b.execute("DELETE FROM items WHERE id = -5")
    sync(b, url)
    sync(a, url)
    a.execute("INSERT INTO foo (a, b, c, d) VALUES ('daisy', 1, 2, 'new')")
    sync(a, url)
    server.stop()
    shutil.rmtree(server.data_dir)
    shutil.copytree(snapshot, server.data_dir)
    server.start()
    # Both hold versions the server lost: they find the common version and offer them again.
    sync(a, url)
    sync(b, url)
    sync(c, url)
    for conn in (a, b, c):
        conn.close()


# ---- what the traffic gives each target ------------------------------------------------

def open_envelope(body):
    if len(body) < 10 or body[:4] != b"ZMRO":
        return None
    payload = zlib.decompress(body[10:]) if body[5] & 1 else body[10:]
    header_size = int.from_bytes(payload[:4], "big")
    return payload[4:4 + header_size].decode("utf-8"), payload[4 + header_size:]


def uncompressed(body):
    return body[:5] + b"\x00" + body[6:10] + (zlib.decompress(body[10:]) if body[5] & 1 else body[10:])


def traffic_inputs(exchanges):
    envelopes, headers, cursors = {}, {}, {"cursor_null.json": b"null"}
    counts = {}
    compressed_kept = 0
    for path, request, status, reply in exchanges:
        route = path.strip("/")
        for side, body in (("request", request), ("reply", reply)):
            opened = open_envelope(body)
            if opened is None:
                continue
            header, package = opened
            fields = json.loads(header)
            counts[(route, side)] = counts.get((route, side), 0) + 1
            name = "%s_%s_%03d" % (route, side, counts[(route, side)])
            envelopes[name + ".zmro"] = uncompressed(body)
            if package and compressed_kept < 6 and counts[(route, side)] <= 2:
                envelopes[name + "_zlib.zmro"] = body
                compressed_kept += 1
            if side == "request":
                headers[name + ".json"] = header.encode("utf-8")
            if fields.get("cursor") is not None:
                cursors["%s.json" % name] = json.dumps(fields["cursor"]).encode("utf-8")
    return envelopes, headers, cursors


# ---- definitions from the guide and the test suite -------------------------------------

def cpp_string_literals(source):
    """The string literals of a C++ file, adjacent ones joined, escapes decoded."""
    token = re.compile(r'R"([^(]*)\((.*?)\)\1"|"((?:[^"\\\n]|\\.)*)"|//[^\n]*|/\*.*?\*/|(\s+)|(.)', re.S)
    literals, current, gap = [], None, False
    for match in token.finditer(source):
        raw_body, plain, space, other = match.group(2), match.group(3), match.group(4), match.group(5)
        if raw_body is not None or plain is not None:
            text = raw_body if raw_body is not None else decode_escapes(plain)
            current = text if current is None else current + text
        elif space is not None or match.group(0).startswith(("//", "/*")):
            continue
        else:
            if current is not None:
                literals.append(current)
            current = None
    if current is not None:
        literals.append(current)
    return literals


def decode_escapes(text):
    simple = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
    return re.sub(r"\\(.)", lambda m: simple.get(m.group(1), m.group(1)), text)


def balanced(text, start):
    """The text between the parenthesis at start and the one closing it, or None."""
    depth, quote, i = 0, None, start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif ch == "[":
            quote = "]"
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1:i]
        i += 1
    return None


def split_arguments(text):
    """Module arguments as SQLite splits them: at commas outside parentheses and quotes."""
    arguments, depth, quote, current = [], 0, None, ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif ch == "[":
            quote = "]"
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            arguments.append(current.strip())
            current = ""
            continue
        current += ch
    arguments.append(current.strip())
    return [" ".join(argument.split()) for argument in arguments]


VIRTUAL_TABLE = re.compile(r"CREATE\s+VIRTUAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[\w.$\"]+\s+USING\s+zumero\s*(?=\()",
                           re.I)
PLAIN_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[^(;]+(?=\()", re.I)
INDEX = re.compile(r"CREATE\s+(?:UNIQUE\s+)?INDEX\s[^;]*", re.I)
ADD_COLUMN = re.compile(r"zumero_alter_table_add_column\(\s*'[^']*'\s*,\s*'[^']*'\s*,\s*'((?:[^']|'')+)'\s*\)")


def definitions_in(text):
    """(kind, text) for every definition found in a piece of SQL."""
    found = []
    for match in VIRTUAL_TABLE.finditer(text):
        body = balanced(text, match.end())
        if body is not None:
            found.append(("vtab", "\n".join(split_arguments(body))))
    for match in PLAIN_TABLE.finditer(text):
        body = balanced(text, match.end())
        if body is not None:
            rest = re.match(r"[^;]*", text[match.end() + len(body) + 2:]).group(0)
            found.append(("table", (match.group(0) + "(" + body + ")" + rest).strip()))
    for match in INDEX.finditer(text):
        found.append(("index", match.group(0).strip()))
    for match in ADD_COLUMN.finditer(text):
        found.append(("column", match.group(1).replace("''", "'")))
    return found


def source_definitions():
    guide = "/work/shared/reference/zumero-sqlite-guide.txt"
    texts = []
    if os.path.exists(guide):
        with open(guide, encoding="utf-8") as f:
            texts.append(f.read())
    for folder in ("tests", "tests/sync", "examples"):
        directory = os.path.join(REPO, folder)
        for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
            if name.endswith((".cpp", ".h", ".c")):
                with open(os.path.join(directory, name), encoding="utf-8") as f:
                    texts.extend(cpp_string_literals(f.read()))
            elif name.endswith((".py", ".sql")):
                with open(os.path.join(directory, name), encoding="utf-8") as f:
                    texts.append(f.read())
    found = []
    for text in texts:
        for item in definitions_in(text):
            if item not in found:
                found.append(item)
    return found


def stored_definitions(extension, work, vtabs):
    """Creates each table through the extension: the canonical arguments it stores and the
    CREATE TABLE of z$T and z$old$T it generates."""
    path = os.path.join(work, "definitions.db")
    conn = open_client(path, extension)
    stored = []
    for number, arguments in enumerate(vtabs):
        name = "t%d" % number
        try:
            conn.execute('CREATE VIRTUAL TABLE "%s" USING zumero (%s)' % (name, ", ".join(arguments.split("\n"))))
        except sqlite3.Error:
            continue
        row = conn.execute('SELECT definition FROM "t$tables" WHERE name = ?', (name,)).fetchone()
        if row:
            stored.append(("vtab", "\n".join(json.loads(row[0]))))
        for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
                                   ("z$" + name, "z$old$" + name)):
            stored.append(("table", sql))
    conn.close()
    return stored


def definition_inputs(extension, work):
    found = source_definitions()
    vtabs = [text for kind, text in found if kind == "vtab"]
    found += [item for item in stored_definitions(extension, work, vtabs) if item not in found]
    # A column is added to the guide's foo: the table's arguments, then the column.
    foo = "a text PRIMARY KEY\nb integer\nc integer"
    inputs, counts = {}, {}
    for kind, text in found:
        content = (foo + "\n" + text) if kind == "column" else text
        counts[kind] = counts.get(kind, 0) + 1
        inputs["%s_%03d.sql" % (kind, counts[kind])] = content.encode("utf-8")
    return inputs


# ---- writing the corpus ----------------------------------------------------------------

def unique(inputs):
    seen, kept = set(), {}
    for name, content in inputs.items():
        if content not in seen:
            seen.add(content)
            kept[name] = content
    return kept


def write_inputs(directory, inputs):
    os.makedirs(directory, exist_ok=True)
    for name, content in inputs.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(content)


def regression_seeds(directory):
    """The inputs once in fuzz/crashers/ (regression_*), kept whatever the recording finds."""
    if not os.path.isdir(directory):
        return {}
    seeds = {}
    for name in sorted(os.listdir(directory)):
        if name.startswith("regression_"):
            with open(os.path.join(directory, name), "rb") as f:
                seeds[name] = f.read()
    return seeds


def replace_corpus(out, target, inputs, fuzz_build, work):
    destination = os.path.join(out, target)
    regressions = regression_seeds(destination)
    shutil.rmtree(destination, ignore_errors=True)
    write_inputs(destination, regressions)
    if not fuzz_build:
        write_inputs(destination, inputs)
        return len(inputs) + len(regressions)
    # libFuzzer names what it keeps by the SHA-1 of its content: map back to our names.
    raw = os.path.join(work, "raw", target)
    merged = os.path.join(work, "merged", target)
    write_inputs(raw, inputs)
    os.makedirs(merged)
    binary = os.path.join(fuzz_build, "fuzz", target)
    subprocess.run([binary, "-merge=1", "-use_counters=0", merged, raw], check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    kept = set(os.listdir(merged))
    chosen = {name: content for name, content in inputs.items() if hashlib.sha1(content).hexdigest() in kept}
    write_inputs(destination, chosen)
    return len(chosen) + len(regressions)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(REPO, "build"), help="build with zumero.so and zumero-server")
    parser.add_argument("--fuzz-build", help="build of the fuzz targets, to keep only inputs that add coverage")
    parser.add_argument("--out", default=os.path.join(REPO, "fuzz", "corpus"))
    args = parser.parse_args()
    extension = os.path.join(os.path.abspath(args.build), "zumero")
    server_binary = os.path.join(os.path.abspath(args.build), "zumero-server")

    with tempfile.TemporaryDirectory(prefix="zumero-corpus-") as work:
        data_dir = os.path.join(work, "data")
        # Small chunks and bodies: pulls come in parts with cursors, large pushes in parts.
        server = Server(server_binary, data_dir, os.path.join(work, "server.log"),
                        ["--pull-chunk-bytes", "1500", "--max-body-bytes", "6000"])
        server.start()
        recorder = Recorder()
        proxy, url = start_proxy(server, recorder)
        try:
            run_scenario(server, url, work, extension)
        finally:
            proxy.shutdown()
            server.stop()

        envelopes, headers, cursors = traffic_inputs(recorder.exchanges)
        inputs = {
            "fuzz_envelope": envelopes,
            "fuzz_request_header": headers,
            "fuzz_pull_cursor": cursors,
            "fuzz_definition": definition_inputs(extension, work),
        }
        inputs = {target: unique(recorded) for target, recorded in inputs.items()}
        for target in TARGETS:
            kept = replace_corpus(args.out, target, inputs[target], args.fuzz_build, work)
            print("%s: %d recorded, %d kept" % (target, len(inputs[target]), kept))


if __name__ == "__main__":
    sys.exit(main())

"""Two client databases sync through a real zumero-server, driven from Python.

Run with an interpreter whose sqlite3 module can load extensions (Debian's
/usr/bin/python3). Usage: python_sync_test.py <zumero-server> <zumero.so>

The script starts the server on 127.0.0.1 with a port it picks itself, reads the
"listening on" line, runs the scenario and stops the server with SIGTERM.
"""
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

PREFIX = "zumero-server listening on "


def start_server(binary, data_dir, log_path):
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        text = line.decode("utf-8", "replace").strip()
        if text.startswith(PREFIX):
            return process, text[len(PREFIX):]
    process.kill()
    process.wait()
    with open(log_path, "rb") as f:
        raise AssertionError("the server did not start:\n" + f.read().decode("utf-8", "replace"))


def open_client(path, extension):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.enable_load_extension(True)
    conn.load_extension(extension)
    conn.enable_load_extension(False)
    return conn


def sync(conn, url, dbfile="pyfile"):
    for _ in range(1000):
        result = conn.execute("SELECT zumero_sync('main', ?, ?)", (url, dbfile)).fetchone()[0]
        fields = [int(x) for x in result.split(";")]
        assert len(fields) == 8, result
        if fields[0] == 0:
            return fields
    raise AssertionError("zumero_sync stayed partial")


def dump(conn, table):
    return conn.execute(f"SELECT rowid, * FROM {table} ORDER BY rowid").fetchall()


def main():
    server_binary, extension = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="zumero-python-sync-") as work:
        data_dir = os.path.join(work, "data")
        os.mkdir(data_dir)
        server, url = start_server(server_binary, data_dir, os.path.join(work, "server.log"))
        try:
            assert url.startswith("http://127.0.0.1:"), url
            a = open_client(os.path.join(work, "a.db"), extension)
            b = open_client(os.path.join(work, "b.db"), extension)

            a.execute("CREATE VIRTUAL TABLE notes USING zumero "
                      "(id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT)")
            a.executemany("INSERT INTO notes (title, body) VALUES (?, ?)",
                          [("first", "from a"), ("second", "from a")])
            sync(a, url)
            assert os.path.exists(os.path.join(data_dir, "pyfile.db"))
            sync(b, url)
            assert dump(b, "notes") == dump(a, "notes"), (dump(a, "notes"), dump(b, "notes"))

            # Both work offline, then sync in turn.
            a.execute("UPDATE notes SET body = 'edited by a' WHERE title = 'first'")
            a.execute("INSERT INTO notes (title, body) VALUES ('third', 'from a')")
            b.execute("DELETE FROM notes WHERE title = 'second'")
            b.execute("INSERT INTO notes (title, body) VALUES ('fourth', 'from b')")
            sync(a, url)
            sync(b, url)
            sync(a, url)
            rows_a, rows_b = dump(a, "notes"), dump(b, "notes")
            assert rows_a == rows_b, (rows_a, rows_b)
            titles = sorted(r[2] for r in rows_a)
            assert titles == ["first", "fourth", "third"], titles
            assert ("edited by a",) == a.execute(
                "SELECT body FROM notes WHERE title = 'first'").fetchone()

            # Errors arrive as sqlite3 exceptions with the zumero message.
            try:
                b.execute("SELECT zumero_sync('main', ?, 'Bad-Name')", (url,)).fetchall()
                raise AssertionError("an invalid dbfile name was accepted")
            except sqlite3.Error as e:
                assert str(e) == "zumero:invalid_dbfile_name", e
            a.close()
            b.close()
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                code = server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
                raise AssertionError("the server did not stop on SIGTERM")
        assert code == 0, f"server exit status {code}"
    print("python sync test passed")


if __name__ == "__main__":
    main()

"""Loads the extension into Python's sqlite3 module and exercises a zumero table.

Run with an interpreter whose sqlite3 module allows extension loading (Debian's
/usr/bin/python3). Usage: python_test.py <path to zumero.so>
"""
import os
import sqlite3
import sys
import tempfile


def expect_error(conn, sql, message):
    try:
        conn.execute(sql).fetchall()
    except sqlite3.Error as e:
        if message not in str(e):
            raise AssertionError(f"{sql!r}: expected {message!r}, got {e!r}")
        return e
    raise AssertionError(f"{sql!r} should have failed with {message!r}")


def main():
    extension = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="zumero-python-test-") as work:
        path = os.path.join(work, "test.db")
        conn = sqlite3.connect(path, isolation_level=None)
        conn.enable_load_extension(True)
        conn.load_extension(extension)
        conn.enable_load_extension(False)

        conn.execute("CREATE VIRTUAL TABLE people USING zumero "
                     "(id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INT)")
        conn.executemany("INSERT INTO people (name, age) VALUES (?, ?)",
                         [("ann", 31), ("bob", 42), ("cy", None), ("dee", 27)])
        conn.execute("UPDATE people SET age = age + 1 WHERE name = ?", ("ann",))
        conn.execute("DELETE FROM people WHERE name = 'bob'")

        rows = conn.execute("SELECT id, name, age FROM people ORDER BY id").fetchall()
        assert rows == [(1, "ann", 32), (3, "cy", None), (4, "dee", 27)], rows
        assert rows == conn.execute("SELECT id, name, age FROM z$people ORDER BY id").fetchall()
        old = conn.execute('SELECT z_recid, z_deleted, name, age FROM "z$old$people" '
                           "ORDER BY z_recid").fetchall()
        assert old == [(1, 0, "ann", 31), (2, 1, "bob", 42)], old

        # Transactions driven from Python.
        conn.execute("BEGIN")
        conn.execute("INSERT INTO people (name, age) VALUES ('eve', 50)")
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == 3
        conn.execute("BEGIN")
        conn.execute("INSERT INTO people (name, age) VALUES ('eve', 50)")
        conn.execute("COMMIT")
        assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == 4

        # Blobs and parameters round-trip.
        conn.execute("CREATE VIRTUAL TABLE files USING zumero (name TEXT PRIMARY KEY, data BLOB)")
        payload = bytes(range(256)) * 10
        conn.execute("INSERT INTO files VALUES (?, ?)", ("bin", payload))
        assert conn.execute("SELECT data FROM files WHERE name = ?", ("bin",)).fetchone()[0] == payload

        # Errors surface as sqlite3 exceptions with zumero messages.
        e = expect_error(conn, "INSERT INTO people (name) VALUES (NULL)", "NOT NULL")
        assert isinstance(e, sqlite3.IntegrityError), type(e)
        expect_error(conn, 'CREATE VIRTUAL TABLE "x$y" USING zumero (a)',
                     "zumero:no_dollar_sign_in_table_name")
        expect_error(conn, "CREATE VIRTUAL TABLE t2 USING zumero (z_rv INT)", "zumero:invalid_argument")
        expect_error(conn, "SELECT zumero_named_constant('bogus')", "zumero:unrecognized_named_constant")
        expect_error(conn, "ALTER TABLE people RENAME TO persons", "zumero:table_rename_unsupported")
        expect_error(conn, "DROP TABLE people", "zumero:table_drop_unsupported")
        assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == 4

        # Functions.
        assert conn.execute("SELECT zumero_named_constant('situation_mod_after_mod')").fetchone()[0] == 3
        assert conn.execute("SELECT zumero_auth_scheme('internal', 'dbfile', 'foo')").fetchone()[0] == \
            '{"scheme_type":"internal","dbfile":"foo"}'
        assert conn.execute("SELECT zumero_purge_history('main')").fetchone()[0] is None
        assert conn.execute('SELECT count(*) FROM "z$old$people"').fetchone()[0] == 0
        conn.close()

        # A second connection sees the data.
        conn = sqlite3.connect(path)
        conn.enable_load_extension(True)
        conn.load_extension(extension)
        assert conn.execute("SELECT name FROM people ORDER BY id").fetchall() == \
            [("ann",), ("cy",), ("dee",), ("eve",)]
        conn.close()
    print("PASS")


if __name__ == "__main__":
    main()

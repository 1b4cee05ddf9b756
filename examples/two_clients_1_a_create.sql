-- Two clients, step 1 (client A): create a zumero table, add rows, sync.
--
-- scripts/demo.sh runs this file through the sqlite3 shell with the extension
-- loaded and two parameters set, roughly:
--
--   sqlite3 -bail -cmd '.load build/zumero' \
--     -cmd ".parameter set @server \"'http://127.0.0.1:8080/'\"" \
--     -cmd ".parameter set @dbfile \"'groceries'\"" \
--     client_a.db < examples/two_clients_1_a_create.sql
--
-- @server is the URL of a running zumero-server, @dbfile the name of the
-- database on the server (lower-case letters, digits and underscores, starting
-- with a letter). The first sync creates that dbfile on the server.
.headers on
.mode table

-- A zumero table is declared like an ordinary table, inside USING zumero (...).
CREATE VIRTUAL TABLE groceries USING zumero (
  item TEXT NOT NULL UNIQUE,
  qty INTEGER NOT NULL DEFAULT 1,
  note TEXT
);

-- Indexes go on the z$ table that holds the live rows. They stay local.
CREATE INDEX groceries_by_qty ON z$groceries (qty);

INSERT INTO groceries (item, qty, note) VALUES ('milk', 2, NULL);
INSERT INTO groceries (item, qty, note) VALUES ('bread', 1, NULL);
INSERT INTO groceries (item, qty, note) VALUES ('eggs', 12, 'free range');
INSERT INTO groceries (item, qty, note) VALUES ('apples', 6, NULL);

SELECT item, qty, note FROM groceries ORDER BY item;

-- Push the rows to the server. The result is a list of integers:
-- partial;quarantine;bytes_up;bytes_down;bytes_up_compressed;bytes_down_compressed;ms_network;ms_total
SELECT zumero_sync('main', @server, @dbfile) AS sync_result;

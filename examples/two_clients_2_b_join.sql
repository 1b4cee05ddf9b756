-- Two clients, step 2 (client B): start from an empty database and sync.
-- The sync pulls the table and client A's rows from the server.
-- Parameters as in two_clients_1_a_create.sql (@server, @dbfile).
.headers on
.mode table

SELECT zumero_sync('main', @server, @dbfile) AS sync_result;

SELECT item, qty, note FROM groceries ORDER BY item;

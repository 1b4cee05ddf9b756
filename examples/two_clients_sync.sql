-- Two clients: one sync of the current database with the server.
-- Pushes local changes, pulls everything other clients pushed since the last
-- sync. Parameters as in two_clients_1_a_create.sql (@server, @dbfile).
.headers on
.mode table

SELECT zumero_sync('main', @server, @dbfile) AS sync_result;

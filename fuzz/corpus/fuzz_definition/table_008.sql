CREATE TABLE statement. For a Zumero table, if you are going to use a SQLite keyword as a column name, you must make it a quoted identifier by putting double quotes around it. If the regular SQLite table being adopted was originally created by taking advantage of SQLite's relaxed quoting rules, this function will fail.

10.6. Quarantine

10.6.1. zumero_quarantine_since_last_sync()

Quarantine and remove all changes since the last sync.

zumero_quarantine_since_last_sync(attached)
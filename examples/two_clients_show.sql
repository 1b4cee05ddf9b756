-- Two clients: print the shared table, in a stable order, for comparison.
.headers on
.mode table

SELECT item, qty, note FROM groceries ORDER BY item;

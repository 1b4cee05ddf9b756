-- Two clients, step 3 (client A, offline): change some rows without syncing.
-- Client A and client B touch different rows, so nothing conflicts.
.headers on
.mode table

UPDATE groceries SET qty = 3, note = 'oat milk' WHERE item = 'milk';
DELETE FROM groceries WHERE item = 'eggs';

SELECT item, qty, note FROM groceries ORDER BY item;

-- Two clients, step 4 (client B, offline): change other rows without syncing.
.headers on
.mode table

UPDATE groceries SET note = 'whole grain' WHERE item = 'bread';
INSERT INTO groceries (item, qty, note) VALUES ('coffee', 1, 'beans');

SELECT item, qty, note FROM groceries ORDER BY item;

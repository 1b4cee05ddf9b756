CREATE TABLE statement. Here's an example of a regular Zumero table:

CREATE VIRTUAL TABLE foo USING zumero
(
  a INT,
  b TEXT,
  UNIQUE (a,b)
)
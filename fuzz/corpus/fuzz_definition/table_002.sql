CREATE TABLE statements.

3.4. Foreign Keys

Foreign keys are supported with the following restrictions:

  • Foreign key constraints may only appear using the REFERENCES keyword as column constraint, not as a table constraint.

  • The foreign table must also be a Zumero table.

  • The ON DELETE and ON UPDATE clauses are not supported.

  • The constraint is always DEFERRABLE INITIALLY DEFERRED.

3.5. Tables are permanent

Zumero tables cannot be renamed or dropped.

3.6. Optional feature: Strict Type Checking

SQLite doesn't do type checking. Regardless of the type used to declare a column, you can insert any type of value into it.

In cases where a SQLite db file is being synchronized against a "big SQL" (like MSSQL or PostgreSQL) on the server, Zumero wants SQLite to be stricter. To facilitate this, Zumero tables can optionally do strict type checking.

To activate this feature, we add a little bit of extra syntax to the CREATE TABLE statement. Here's an example of a regular Zumero table:

CREATE VIRTUAL TABLE foo USING zumero
(
  a INT,
  b TEXT,
  UNIQUE (a,b)
)
.headers off
.mode list
CREATE VIRTUAL TABLE foo USING zumero (a text PRIMARY KEY, b integer, c integer);
INSERT INTO foo (a,b,c) VALUES ('bar', 17, 13);
UPDATE foo SET b=289 WHERE a='bar';
UPDATE foo SET c=169 WHERE a='bar';
SELECT a, b, c FROM foo;
SELECT count(*) FROM "z$old$foo";
SELECT * FROM z$foo;
CREATE INDEX foo_b ON z$foo (b);
SELECT a FROM foo WHERE b = 289;
SELECT zumero_named_constant('action_attempt_text_merge') | zumero_named_constant('action_accept');
SELECT zumero_internal_auth_scheme('foo');
CREATE VIRTUAL TABLE "a$b" USING zumero (x);
SELECT 'after error';
DROP TABLE foo;
SELECT count(*) FROM foo;
SELECT zumero_named_constant('nonsense');
SELECT zumero_purge_history('main') IS NULL, (SELECT count(*) FROM "z$old$foo");

-- Guide 7.5, the "Create Wiki" feature (run in the wiki's own SQLite file): Aretha
-- registers in 'owners', makes 'my_wiki_members' that only she may add users to, and
-- creates the private wiki. As written but for the comma the guide misses after
-- 'respect' in zumero_internal_auth_create. zumero_internal_auth(...) is the guide's
-- spelling of zumero_internal_auth_scheme(...).

-- The app has a "Create Wiki" feature which allows someone to create their own wiki.
-- This feature prompts the user for a password and creates a user in the 'owners'
-- dbfile.
SELECT zumero_internal_auth_add_user(
    'https://server', 
    'owners', 
    NULL, 
    NULL, 
    NULL, 
    'Aretha', 
    'respect'
    );

-- Now we want another internal auth db to store the members of this wiki. We
-- configure it so that only the wiki owner can add users:
SELECT zumero_internal_auth_create(
    'https://server',
    'my_wiki_members',
    zumero_internal_auth('owners'),
    'Aretha', 
    'respect',
    NULL,
    NULL,
    zumero_internal_auth_scheme('owners'),
    zumero_named_constant('acl_who_specific_user') || 'Aretha',
    zumero_internal_auth_scheme('owners'),
    zumero_named_constant('acl_who_specific_user') || 'Aretha'
    );

-- Now we want to create the wiki itself:
BEGIN TRANSACTION;

CREATE VIRTUAL TABLE wiki USING zumero (
    title text NOT NULL UNIQUE, 
    content text NOT NULL
    );

-- Use text automerge for wiki pages
SELECT zumero_add_row_rule(
    'main',
    'wiki', 
    zumero_named_constant('situation_mod_after_mod'),
    zumero_named_constant('action_column_merge'),
    NULL
    );
SELECT zumero_add_column_rule(
    'main',
    'wiki', 
    'content', 
    zumero_named_constant('action_attempt_text_merge') 
        | zumero_named_constant('action_accept'),
    NULL
    );

-- The wiki is private.  Members only.
SELECT zumero_define_acl_table('main');
INSERT INTO z_acl (scheme,who,tbl,op,result) VALUES (
    zumero_internal_auth_scheme('my_wiki_members'), 
    zumero_named_constant('acl_who_any_authenticated_user'), 
    '', 
    '*', 
    zumero_named_constant('acl_result_allow'));
INSERT INTO z_acl (scheme,who,tbl,op,result) VALUES (
    '', 
    zumero_named_constant('acl_who_anyone'), 
    '', 
    '*', 
    zumero_named_constant('acl_result_deny'));

COMMIT TRANSACTION;

SELECT zumero_sync(
    'main',
    'https://server', 
    'my_wiki_pages', 
    zumero_internal_auth_scheme('owners'), 
    zumero_named_constant('acl_who_specific_user') || 'Aretha', 
    'respect'
    );

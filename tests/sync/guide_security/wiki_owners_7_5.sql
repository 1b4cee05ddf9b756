-- Guide 7.5, "Free Private Wikis", first step (run in a temporary SQLite file) as
-- written: the 'owners' auth dbfile, which anyone may add users to. The test loads
-- the extension first and replaces https://server with the server's URL.

SELECT zumero_internal_auth_create(
    'https://server',
    'owners',
    zumero_internal_auth('zumero_users_admin'),
    'admin',
    'my admin password',
    NULL,
    NULL,
    '',
    zumero_named_constant('acl_who_anyone'),
    NULL,
    NULL
    );

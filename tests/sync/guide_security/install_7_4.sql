-- Guide 7.4, "Securing a newly installed server", as written. The test replaces
-- 'zumero.dll' with the built extension and https://server with the server's URL.

SELECT load_extension('zumero.dll');

SELECT zumero_internal_auth_create(
    'https://server',
    'zumero_users_admin',
    NULL,
    NULL,
    NULL,
    'admin',
    'you shall not pass',
    zumero_internal_auth_scheme('zumero_users_admin'),
    zumero_named_constant('acl_who_any_authenticated_user'),
    zumero_internal_auth_scheme('zumero_users_admin'),
    zumero_named_constant('acl_who_any_authenticated_user')
    );

BEGIN TRANSACTION;

SELECT zumero_define_acl_table('main');

-- Don't let anyone do anything with this dbfile
INSERT INTO z_acl (scheme,who,tbl,op,result) VALUES (
    '', 
    zumero_named_constant('acl_who_anyone'), 
    '', 
    '*',
    zumero_named_constant('acl_result_deny')
    );

-- except admins
INSERT INTO z_acl (scheme,who,tbl,op,result) VALUES (
    zumero_internal_auth_scheme('zumero_users_admin'), 
    zumero_named_constant('acl_who_any_authenticated_user'), 
    '', 
    '*',
    zumero_named_constant('acl_result_allow')
    );

-- explicitly mention create_dbfile, for clarity of this example
INSERT INTO z_acl (scheme,who,tbl,op,result) VALUES (
    zumero_internal_auth_scheme('zumero_users_admin'), 
    zumero_named_constant('acl_who_any_authenticated_user'), 
    '', 
    zumero_named_constant('acl_op_create_dbfile'), 
    zumero_named_constant('acl_result_allow'));

COMMIT TRANSACTION;

SELECT zumero_sync('main','https://server', 'zumero_config', NULL, NULL, NULL);

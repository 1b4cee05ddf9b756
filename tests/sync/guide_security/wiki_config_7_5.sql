-- Guide 7.5, second step (run in a memory database): only users of 'owners' may
-- create a dbfile. The guide leaves the credentials of the sync as "..."; they are
-- the admin's, whose password the previous step used.

SELECT zumero_define_acl_table('main');
INSERT INTO z_acl (scheme,who,tbl,op,result) VALUES (
    zumero_internal_auth_scheme('owners'), 
    zumero_named_constant('acl_who_any_authenticated_user'), 
    '', 
    zumero_named_constant('acl_op_create_dbfile'), 
    zumero_named_constant('acl_result_allow'));

SELECT zumero_sync('main' ,'https://server', 'zumero_config', zumero_internal_auth_scheme('zumero_users_admin'), 'admin', 'my admin password');

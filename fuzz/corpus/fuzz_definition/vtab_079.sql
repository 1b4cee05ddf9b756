x INTEGER CONSTRAINT z_ipk_no_change_on_sync PRIMARY KEY
y TEXT
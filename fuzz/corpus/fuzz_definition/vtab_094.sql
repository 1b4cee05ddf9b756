who TEXT
allowed INTEGER
x TEXT PRIMARY KEY NOT NULL DEFAULT ( lower(hex(randomblob(16))) )
y text
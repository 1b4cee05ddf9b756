a text PRIMARY KEY
b integer
c integer
d INT NOT NULL DEFAULT 7
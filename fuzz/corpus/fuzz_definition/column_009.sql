a text PRIMARY KEY
b integer
c integer
c TEXT
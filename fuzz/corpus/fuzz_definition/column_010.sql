a text PRIMARY KEY
b integer
c integer
x TEXT
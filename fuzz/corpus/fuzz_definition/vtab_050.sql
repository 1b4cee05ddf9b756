name TEXT
v INT
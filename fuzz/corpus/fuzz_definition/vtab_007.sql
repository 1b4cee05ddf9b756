a int
b int
c int
CHECK (c > (a + b))
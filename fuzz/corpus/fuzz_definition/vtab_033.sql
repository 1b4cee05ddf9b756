x INT PRIMARY KEY DEFAULT ( random() )
y text
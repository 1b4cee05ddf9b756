id integer primary key
[Name] varchar ( 20 ) not null collate nocase
`n` int default(1+2) check(n>=0)
unique("Name" collate binary desc)
"TBL" text not null
ancestor TEXT NOT NULL
[already] TEXT
`incoming` text
result TEXT
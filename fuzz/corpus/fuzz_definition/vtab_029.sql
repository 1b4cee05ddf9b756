"a" INT
"b""" TEXT
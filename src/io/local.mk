## io: (fragment; see Makefile.am)

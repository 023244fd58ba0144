## substrate: (fragment; see Makefile.am)

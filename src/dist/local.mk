## dist: (fragment; see Makefile.am)

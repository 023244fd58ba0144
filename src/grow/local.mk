## grow: (fragment; see Makefile.am)

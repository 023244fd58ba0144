## nn: (fragment; see Makefile.am)

## text: (fragment; see Makefile.am)

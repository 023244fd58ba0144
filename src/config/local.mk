## config: the declarative settings table, INI files and --set overrides.
libstrata_a_SOURCES += src/config/config.c
noinst_HEADERS += include/strata/config.h

check_PROGRAMS += tests/config/test_config
TESTS += tests/config/test_config

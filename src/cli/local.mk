## cli: the thin `strata` binary -- dispatch plus one file per command.
strata_SOURCES += \
	src/cli/main.c \
	src/cli/cli.h \
	src/cli/cli_config.c \
	src/cli/cli_config.h \
	src/cli/cmd_prepare.c \
	src/cli/cmd_tokenizer.c \
	src/cli/cmd_substrate.c \
	src/cli/cmd_grow.c \
	src/cli/cmd_eval.c \
	src/cli/cmd_generate.c \
	src/cli/cmd_merge.c \
	src/cli/cmd_metrics.c \
	src/cli/cmd_inspect.c \
	src/cli/cmd_config.c

## strata-blas-core: the OPENBLAS_CORETYPE to use, by measurement (job scripts, bench/env.sh).
bin_PROGRAMS += strata-blas-core
strata_blas_core_SOURCES = src/cli/blas_core.c
strata_blas_core_LDADD = libstrata.a $(DEPS_LIBS)
TESTS += tests/cli/blas_core.sh
EXTRA_DIST += tests/cli/blas_core.sh

TESTS += tests/cli/cli.sh tests/cli/configure.sh
EXTRA_DIST += tests/cli/cli.sh tests/cli/configure.sh tests/lib.sh

## Every command that writes refuses to overwrite by accident (src/io/outguard.c).
TESTS += tests/cli/outguard.sh
EXTRA_DIST += tests/cli/outguard.sh

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
	src/cli/cmd_config.c \
	src/cli/cmd_export.c \
	src/cli/cmd_import.c

TESTS += tests/cli/cli.sh tests/cli/configure.sh
EXTRA_DIST += tests/cli/cli.sh tests/cli/configure.sh tests/lib.sh

## Every command that writes refuses to overwrite by accident (src/io/outguard.c).
TESTS += tests/cli/outguard.sh
EXTRA_DIST += tests/cli/outguard.sh

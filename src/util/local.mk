## util: logging, status codes, RNG, timers, BLAS sanity, SHA-256.
libstrata_a_SOURCES += \
	src/util/error.c \
	src/util/log.c \
	src/util/rng.c \
	src/util/timer.c \
	src/util/blas_check.c \
	src/util/progress.c \
	src/util/signals.c \
	src/util/mpilife.c \
	src/util/agree.c \
	src/util/sha256.c
noinst_HEADERS += \
	include/strata/error.h \
	include/strata/log.h \
	include/strata/rng.h \
	include/strata/timer.h \
	include/strata/blas_check.h \
	include/strata/progress.h \
	include/strata/signals.h \
	include/strata/mpilife.h \
	include/strata/agree.h \
	include/strata/sha256.h \
	tests/harness.h

check_PROGRAMS += tests/util/test_util
TESTS += tests/util/test_util
check_PROGRAMS += tests/util/test_log
MPI_TESTS += tests/util/test_log-np1.mpi tests/util/test_log-np3.mpi
check_PROGRAMS += tests/util/test_agree
MPI_TESTS += tests/util/test_agree-np1.mpi tests/util/test_agree-np3.mpi
check_PROGRAMS += tests/util/test_finalize
TESTS += tests/util/test_finalize

## grow: the training loop of a stage, the activation cache, the coordinator's decisions.
libstrata_a_SOURCES += src/grow/schedule.c
noinst_HEADERS += include/strata/schedule.h

check_PROGRAMS += tests/grow/test_schedule
MPI_TESTS += tests/grow/test_schedule-np1.mpi tests/grow/test_schedule-np3.mpi
libstrata_a_SOURCES += \
	src/grow/grow.c \
	src/grow/load.c \
	src/grow/parent.c \
	src/grow/cache.c \
	src/grow/inputs.c \
	src/grow/checkpoint.c \
	src/grow/state.c \
	src/grow/tensors.c \
	src/grow/live.c \
	src/grow/branch.c
noinst_HEADERS += include/strata/grow.h include/strata/cache.h src/grow/run.h
TESTS += tests/grow/grow.sh tests/grow/diverge.sh tests/grow/lock.sh tests/grow/live.sh tests/grow/branch.sh tests/grow/split.sh tests/grow/readme.sh tests/grow/precision.sh tests/grow/overlap.sh tests/grow/cache.sh tests/grow/zero.sh
EXTRA_DIST += tests/grow/grow.sh tests/grow/diverge.sh tests/grow/lock.sh tests/grow/live.sh tests/grow/branch.sh tests/grow/split.sh tests/grow/readme.sh tests/grow/precision.sh tests/grow/overlap.sh tests/grow/cache.sh tests/grow/zero.sh tests/data/moby-60k.txt jobs/local/grow.sh

## Unit tests of the run state and the activation cache (single process).
check_PROGRAMS += tests/grow/test_state tests/grow/test_cache
TESTS += tests/grow/test_state tests/grow/test_cache

## grow: the training loop of a stage, the activation cache, the coordinator's decisions.
libstrata_a_SOURCES += src/grow/schedule.c
noinst_HEADERS += include/strata/schedule.h

check_PROGRAMS += tests/grow/test_schedule
MPI_TESTS += tests/grow/test_schedule-np1.mpi tests/grow/test_schedule-np3.mpi
libstrata_a_SOURCES += src/grow/grow.c src/grow/cache.c src/grow/data.c src/io/checkpoint.c
noinst_HEADERS += include/strata/grow.h include/strata/cache.h include/strata/run.h
TESTS += tests/grow/grow.sh
EXTRA_DIST += tests/grow/grow.sh tests/data/moby-60k.txt jobs/local/grow.sh
# eval / generate / merge: models read back from checkpoints and ensembles.
libstrata_a_SOURCES += src/io/ckpt_model.c
noinst_HEADERS += include/strata/ckpt_model.h src/cli/cli_num.h
TESTS += tests/cli/eval.sh
EXTRA_DIST += tests/cli/eval.sh
check_PROGRAMS += tests/io/test_ckpt_model
MPI_TESTS += tests/io/test_ckpt_model-np1.mpi tests/io/test_ckpt_model-np3.mpi

## grow: the training loop of a stage, the activation cache, the coordinator's decisions.
libstrata_a_SOURCES += src/grow/schedule.c
noinst_HEADERS += include/strata/schedule.h

check_PROGRAMS += tests/grow/test_schedule
MPI_TESTS += tests/grow/test_schedule-np1.mpi tests/grow/test_schedule-np3.mpi

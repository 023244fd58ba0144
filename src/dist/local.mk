## dist: collectives, agreement, data shards.
libstrata_a_SOURCES += src/dist/comm.c
noinst_HEADERS += include/strata/comm.h

check_PROGRAMS += tests/dist/test_comm
MPI_TESTS += tests/dist/test_comm-np1.mpi tests/dist/test_comm-np2.mpi tests/dist/test_comm-np3.mpi

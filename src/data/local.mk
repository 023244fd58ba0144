## data: prepared datasets (open, check, select a split) and the training order.
libstrata_a_SOURCES += src/data/dataset.c src/data/order.c
noinst_HEADERS += include/strata/dataset.h include/strata/order.h

check_PROGRAMS += tests/data/test_dataset tests/data/test_order
MPI_TESTS += tests/data/test_dataset-np1.mpi tests/data/test_dataset-np2.mpi
TESTS += tests/data/test_order

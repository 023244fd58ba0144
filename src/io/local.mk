## io: HDF5 helpers, atomic files + checkpoint directories, metric tables.
libstrata_a_SOURCES += \
	src/io/h5.c \
	src/io/ckptdir.c
noinst_HEADERS += \
	include/strata/h5.h \
	include/strata/ckptdir.h

## Dimension scales (H5DS*) live in HDF5's high-level library, which the
## hdf5-openmpi pkg-config file does not list; it sits next to libhdf5 (the
## -L comes from HDF5_LIBS).  Better home: DEPS_LIBS in configure.ac.
LDADD += -lhdf5_hl
strata_LDADD += -lhdf5_hl

check_PROGRAMS += tests/io/test_h5 tests/io/test_ckptdir
MPI_TESTS += tests/io/test_h5-np1.mpi tests/io/test_h5-np3.mpi
MPI_TESTS += tests/io/test_ckptdir-np1.mpi tests/io/test_ckptdir-np3.mpi
noinst_HEADERS += tests/io/io_test.h

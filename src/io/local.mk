## io: HDF5 helpers, atomic publication of files, checkpoint directories, metric tables.
libstrata_a_SOURCES += \
	src/io/h5_file.c \
	src/io/h5_check.c \
	src/io/h5_attr.c \
	src/io/h5_kind.c \
	src/io/h5_data.c \
	src/io/h5_table.c \
	src/io/publish.c \
	src/io/ckptdir.c \
	src/io/metrics.c
noinst_HEADERS += \
	include/strata/h5.h \
	include/strata/publish.h \
	src/io/h5_internal.h \
	include/strata/ckptdir.h \
	include/strata/metrics.h

## Dimension scales (H5DS*) live in HDF5's high-level library, which the
## hdf5-openmpi pkg-config file does not list; it sits next to libhdf5 (the
## -L comes from HDF5_LIBS).  Better home: DEPS_LIBS in configure.ac.

check_PROGRAMS += tests/io/test_h5 tests/io/test_h5_hostile tests/io/test_publish tests/io/test_ckptdir tests/io/test_metrics tests/io/test_write_sample
MPI_TESTS += tests/io/test_h5-np1.mpi tests/io/test_h5-np3.mpi
MPI_TESTS += tests/io/test_publish-np1.mpi tests/io/test_publish-np3.mpi
## Files from a stranger (one process: the files are made with raw HDF5).
TESTS += tests/io/test_h5_hostile
MPI_TESTS += tests/io/test_ckptdir-np1.mpi tests/io/test_ckptdir-np3.mpi
MPI_TESTS += tests/io/test_metrics-np1.mpi tests/io/test_metrics-np3.mpi
## test_write_sample writes a file that the shell tests check with h5dump and h5py.
TESTS += tests/io/h5dump.sh tests/io/h5py.sh
EXTRA_DIST += tests/io/h5dump.sh tests/io/h5py.sh
noinst_HEADERS += tests/io/io_test.h
EXTRA_DIST += docs/FORMAT.md

## One job per run directory (LOCK) and the overwrite guard of the commands.
libstrata_a_SOURCES += src/io/runlock.c src/io/outguard.c
noinst_HEADERS += include/strata/runlock.h include/strata/outguard.h
check_PROGRAMS += tests/io/test_runlock tests/io/test_outguard
MPI_TESTS += tests/io/test_runlock-np1.mpi tests/io/test_runlock-np2.mpi
TESTS += tests/io/test_outguard

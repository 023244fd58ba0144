## substrate: glyph rendering (FreeType), distributed PCA (ScaLAPACK), substrate kinds and file.
libstrata_a_SOURCES += \
	src/substrate/glyph.c \
	src/substrate/pca.c \
	src/substrate/substrate.c \
	src/substrate/substrate_file.c \
	src/substrate/substrate_internal.h \
	src/substrate/substrate_tok.c
noinst_HEADERS += \
	include/strata/glyph.h \
	include/strata/pca.h \
	include/strata/substrate.h

check_PROGRAMS += tests/substrate/test_glyph tests/substrate/test_pca tests/substrate/test_substrate
TESTS += tests/substrate/test_glyph
MPI_TESTS += \
	tests/substrate/test_pca-np1.mpi tests/substrate/test_pca-np2.mpi tests/substrate/test_pca-np3.mpi \
	tests/substrate/test_substrate-np1.mpi tests/substrate/test_substrate-np3.mpi

## Benchmark programs (not built by 'make'; 'make bench/substrate-bench').
EXTRA_PROGRAMS += bench/substrate-bench
bench_substrate_bench_SOURCES = bench/substrate-bench.c

EXTRA_DIST += bench/substrate-bench.sh docs/FORMAT-substrate.md

TESTS += tests/substrate/substrate.sh
EXTRA_DIST += tests/substrate/substrate.sh

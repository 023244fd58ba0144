## eval: per-depth evaluation of one or more members (the logit lens), and
## sampling text from them.
libstrata_a_SOURCES += src/eval/eval.c src/eval/generate.c
noinst_HEADERS += include/strata/eval.h include/strata/generate.h src/cli/cli_num.h

check_PROGRAMS += tests/eval/test_ensemble tests/eval/test_combine
MPI_TESTS += tests/eval/test_ensemble-np1.mpi tests/eval/test_ensemble-np3.mpi
MPI_TESTS += tests/eval/test_combine-np1.mpi tests/eval/test_combine-np3.mpi
TESTS += tests/cli/eval.sh tests/eval/combine.sh tests/eval/readme.sh
EXTRA_DIST += tests/cli/eval.sh tests/eval/combine.sh tests/eval/readme.sh

## eval: per-depth evaluation of one or more members (the logit lens), and
## sampling text from them.
libstrata_a_SOURCES += src/eval/eval.c src/eval/generate.c src/eval/probe.c src/eval/tasks.c
noinst_HEADERS += include/strata/eval.h include/strata/generate.h include/strata/probe.h include/strata/tasks.h src/cli/cli_num.h

check_PROGRAMS += tests/eval/test_ensemble tests/eval/test_combine
MPI_TESTS += tests/eval/test_ensemble-np1.mpi tests/eval/test_ensemble-np3.mpi
MPI_TESTS += tests/eval/test_combine-np1.mpi tests/eval/test_combine-np3.mpi
TESTS += tests/cli/eval.sh tests/eval/combine.sh tests/eval/readme.sh
EXTRA_DIST += tests/cli/eval.sh tests/eval/combine.sh tests/eval/readme.sh

## Probes (induction, per-position loss) and multiple-choice tasks, on 1 and 2 ranks.
check_PROGRAMS += tests/eval/test_probe tests/eval/test_tasks
MPI_TESTS += tests/eval/test_probe-np1.mpi tests/eval/test_probe-np2.mpi \
	tests/eval/test_tasks-np1.mpi tests/eval/test_tasks-np2.mpi
TESTS += tests/cli/tasks.sh
EXTRA_DIST += tests/cli/tasks.sh

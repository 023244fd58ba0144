## benchmarks (built by 'make bench'; not part of make check).
## `make bench` builds the programs and runs the scripts; results and the
## exact commands are recorded in bench/RESULTS.md.
EXTRA_PROGRAMS = bench/bench_sgemm
bench_bench_sgemm_SOURCES = bench/bench_sgemm.c bench/bench_sgemm_lib.c
noinst_HEADERS += bench/bench_sgemm.h
CLEANFILES += $(EXTRA_PROGRAMS)
bench_scripts = bench/env.sh bench/sgemm.sh
EXTRA_DIST += $(bench_scripts) bench/RESULTS.md

.PHONY: bench
bench: $(EXTRA_PROGRAMS)
	top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	  $(SHELL) $(top_srcdir)/bench/sgemm.sh

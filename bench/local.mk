## benchmarks (built by 'make bench'; not part of make check).
## `make bench` builds the programs and runs the scripts; results and the
## exact commands are recorded in bench/RESULTS.md.
EXTRA_PROGRAMS += bench/bench_sgemm bench/bench_stage
bench_bench_sgemm_SOURCES = bench/bench_sgemm.c bench/bench_sgemm_lib.c
bench_bench_stage_SOURCES = bench/bench_stage.c bench/bench_sgemm_lib.c
noinst_HEADERS += bench/bench_sgemm.h
CLEANFILES += $(EXTRA_PROGRAMS)
bench_scripts = bench/mfu.sh bench/shard-rss.sh bench/grow.sh bench/grow-bench.ini bench/env.sh bench/sgemm.sh bench/torch_compare.sh bench/torch_bench.py bench/ensemble.sh bench/bf16.sh bench/overlap.sh bench/depth.sh bench/zero-mem.sh
EXTRA_DIST += $(bench_scripts) bench/RESULTS.md

.PHONY: bench
bench: $(EXTRA_PROGRAMS) strata$(EXEEXT)
	@export top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' \
	  PYTHON3='$(PYTHON3_SYSTEM)' OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; \
	$(SHELL) $(top_srcdir)/bench/sgemm.sh && \
	$(SHELL) $(top_srcdir)/bench/torch_compare.sh && \
	$(SHELL) $(top_srcdir)/bench/bf16.sh && \
	$(SHELL) $(top_srcdir)/bench/grow.sh && \
	$(SHELL) $(top_srcdir)/bench/text-bench.sh && \
	$(SHELL) $(top_srcdir)/bench/substrate-bench.sh && \
	$(SHELL) $(top_srcdir)/bench/ensemble.sh && \
	$(SHELL) $(top_srcdir)/bench/overlap.sh && \
	$(SHELL) $(top_srcdir)/bench/zero-mem.sh

## text: UTF-8, the lossless tokenizer, corpus preparation.
libstrata_a_SOURCES += \
	src/text/utf8.c \
	src/text/tokenizer.c \
	src/text/tok_learn.c \
	src/text/tok_h5.c \
	src/text/corpus.c \
	src/text/corpus_describe.c \
	src/text/tok_internal.h
noinst_HEADERS += \
	include/strata/utf8.h \
	include/strata/tokenizer.h \
	include/strata/corpus.h

check_PROGRAMS += tests/text/test_tokenizer
TESTS += tests/text/test_tokenizer

check_PROGRAMS += tests/text/test_corpus
MPI_TESTS += tests/text/test_corpus-np1.mpi tests/text/test_corpus-np2.mpi tests/text/test_corpus-np3.mpi

TEXT_SH_TESTS = tests/text/prepare.sh tests/text/prepare-errors.sh tests/text/prepare-diskfull.sh \
	tests/text/prepare-space.sh tests/text/tokenizer.sh tests/text/ingest.sh
TESTS += $(TEXT_SH_TESTS)
EXTRA_DIST += $(TEXT_SH_TESTS)

## Benchmark: tokenizer throughput against `wc -m` (bench/text-bench.sh;
## results in).  `make bench-text` builds it.
EXTRA_PROGRAMS += bench/text-encode
bench_text_encode_SOURCES = bench/text-encode.c
EXTRA_DIST += bench/text-bench.sh bench/text-mkcorpus.sh docs/FORMAT-dataset.md
.PHONY: bench-text
bench-text: bench/text-encode$(EXEEXT)

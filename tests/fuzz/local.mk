## fuzz: libFuzzer harnesses (configure --enable-fuzzing CC=clang; run by
## tools/fuzz.sh).  The library is built with -fsanitize=fuzzer-no-link,
## address,undefined (SAN_CFLAGS); only these programs link libFuzzer.
FUZZ_HARNESSES = tests/fuzz/fuzz_utf8_tok tests/fuzz/fuzz_config tests/fuzz/fuzz_h5_load tests/fuzz/fuzz_safetensors
if FUZZING
noinst_PROGRAMS = $(FUZZ_HARNESSES)
FUZZ_LDADD = libstrata.a $(DEPS_LIBS)
tests_fuzz_fuzz_utf8_tok_SOURCES = tests/fuzz/fuzz_utf8_tok.c tests/fuzz/fuzz_common.h
tests_fuzz_fuzz_utf8_tok_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_utf8_tok_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c tests/fuzz/fuzz_common.h
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_config_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_h5_load_SOURCES = tests/fuzz/fuzz_h5_load.c tests/fuzz/fuzz_common.h
tests_fuzz_fuzz_h5_load_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_h5_load_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_safetensors_SOURCES = tests/fuzz/fuzz_safetensors.c tests/fuzz/fuzz_common.h
tests_fuzz_fuzz_safetensors_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_safetensors_LDADD = $(FUZZ_LDADD)
endif
EXTRA_DIST += tests/fuzz/fuzz_utf8_tok.c tests/fuzz/fuzz_config.c tests/fuzz/fuzz_h5_load.c tests/fuzz/fuzz_safetensors.c \
	tests/fuzz/fuzz_common.h tests/fuzz/fuzz_config.dict tests/fuzz/corpus tests/fuzz/lsan.supp \
	tests/fuzz/hdf5-defects tools/fuzz.sh

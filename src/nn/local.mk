## nn: parameter arenas, forward/backward kernels, blocks, head, LoRA, AdamW,
## the model with its workspace and KV cache, sampling.
libstrata_a_SOURCES += \
	src/nn/params.c \
	src/nn/ops.c \
	src/nn/gemm.c \
	src/nn/block.c \
	src/nn/head.c \
	src/nn/lora.c \
	src/nn/adamw.c \
	src/nn/model.c \
	src/nn/decode.c \
	src/nn/sample.c
noinst_HEADERS += \
	include/strata/params.h \
	include/strata/ops.h \
	include/strata/block.h \
	include/strata/head.h \
	include/strata/lora.h \
	include/strata/adamw.h \
	include/strata/model.h \
	include/strata/sample.h \
	src/nn/fastmath.h \
	tests/nn/gradcheck.h

check_PROGRAMS += tests/nn/test_ops tests/nn/test_model tests/nn/test_adamw
TESTS += tests/nn/test_ops tests/nn/test_model tests/nn/test_adamw

## store: model files -- where a model's tensors sit (layout), models and
## ensembles read back from checkpoints (eval / generate / merge), ensembles written.
libstrata_a_SOURCES += src/store/layout.c src/store/ckpt_model.c
noinst_HEADERS += include/strata/layout.h include/strata/ckpt_model.h

## export directories (safetensors + JSON) for other tools, and back (strata export / import)
libstrata_a_SOURCES += src/store/safetensors.c src/store/export.c
noinst_HEADERS += include/strata/safetensors.h include/strata/export.h
## tests/store/export.sh: export -> PyTorch logits (tools/strata_torch.py, when
## PyTorch is installed) and export -> import -> eval round trips.
check_PROGRAMS += tests/store/st_logits tests/store/test_safetensors
TESTS += tests/store/test_safetensors
TESTS += tests/store/export.sh
EXTRA_DIST += tests/store/export.sh tools/strata_torch.py

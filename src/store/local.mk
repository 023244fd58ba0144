## store: model files -- where a model's tensors sit (layout), models and
## ensembles read back from checkpoints (eval / generate / merge), ensembles written.
libstrata_a_SOURCES += src/store/layout.c src/store/ckpt_model.c
noinst_HEADERS += include/strata/layout.h include/strata/ckpt_model.h

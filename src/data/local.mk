## data: prepared datasets (open, check, select a split) and the training order.
libstrata_a_SOURCES += src/data/dataset.c src/data/order.c
noinst_HEADERS += include/strata/dataset.h include/strata/order.h

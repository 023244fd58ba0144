## whole-model comparison against the PyTorch reference fixture
## (tests/fixtures/model_ref.h5, written by tools/torch_ref.py; the test
## itself needs no PyTorch).
EXTRA_DIST += tests/fixtures/model_ref.h5 tools/torch_ref.py
check_PROGRAMS += tests/ref/test_model_ref
TESTS += tests/ref/test_model_ref

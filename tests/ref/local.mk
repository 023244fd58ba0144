## whole-model comparison against the PyTorch reference fixture

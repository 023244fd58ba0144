## tests that span areas

## The layers of docs/ARCHITECTURE.md (includes point down only).
TESTS += tests/arch.sh
EXTRA_DIST += tests/arch.sh

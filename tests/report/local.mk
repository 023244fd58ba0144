## report: the per-depth figures (strata report), FLOPs/MFU and the progress display.
TESTS += tests/report/flops.sh tests/report/progress.sh tests/report/report.sh
EXTRA_DIST += tests/report/flops.sh tests/report/progress.sh tests/report/report.sh
EXTRA_DIST += docs/REPORT.md

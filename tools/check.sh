#!/usr/bin/env bash
# check.sh -- the whole test suite from a fresh Debian 12 machine:
# install missing packages, build out of tree, run `make check`, then
# `make distcheck`, the suite again under ASan + UBSan, and the libFuzzer
# harnesses for a bounded time (tools/fuzz.sh; FUZZ_SECONDS each, default 30).
#   tools/check.sh           everything (what CI runs)
#   tools/check.sh --quick   build + make check only
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc 2>/dev/null || echo 2)

# The tests also lint the job scripts (shellcheck) and run a private
# single-node Slurm (tests/hpc/slurm.sh).
# The fuzzing phase needs clang and its libFuzzer runtime; the README's
# two-specialists walk-through (tests/eval/readme.sh) the Russian fortunes;
# strata report (tests/report) h5py and matplotlib; train.precision = bfloat16
# (tests/grow/precision.sh, tests/nn/test_ops) oneDNN; PyTorch lets
# tests/store/export.sh compare tools/strata_torch.py with strata's logits
# (it SKIPs those checks without it).
bash tools/deps.sh python3-h5py python3-matplotlib shellcheck slurm-wlm slurmctld slurmd munge clang libclang-rt-14-dev fortunes-ru libdnnl-dev python3-torch
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi

summary() { # summary DIR LABEL: print "LABEL: N passed, N failed" from the test logs
  local log="$1/test-suite.log"
  local pass fail
  pass=$(grep -h '^# PASS:' "$log" 2>/dev/null | awk '{s+=$3} END {print s+0}')
  fail=$(grep -hE '^# (FAIL|ERROR|XPASS):' "$log" 2>/dev/null | awk '{s+=$3} END {print s+0}')
  echo "$2: $pass passed, $fail failed"
}

run_suite() { # run_suite BUILDDIR LABEL [configure args...]
  local dir=$1 label=$2
  shift 2
  mkdir -p "$dir"
  (cd "$dir" && "$top/configure" -q "$@" && make -j"$jobs" && make -j"$jobs" check) || {
    summary "$dir" "$label"
    find "$dir" -name '*.log' -newer "$dir/config.status" -exec grep -lE '^(FAIL|ERROR)' {} + 2>/dev/null |
      head -5 | while read -r f; do echo "==== $f"; tail -40 "$f"; done
    return 1
  }
  summary "$dir" "$label"
}

# counts: "PASSED FAILED" summed over the "# PASS: N" / "# FAIL|ERROR|XPASS: N"
# lines of automake test logs and summaries on stdin (or in FILE...)
counts() {
  sed 's/\x1b\[[0-9;]*m//g' "$@" | awk '/^# PASS:/ {p+=$3} /^# (FAIL|ERROR|XPASS):/ {f+=$3} END {print p+0, f+0}'
}

start=$(date +%s)
# The totals count only the suites of this run: no log of an earlier one.
rm -f build/test-suite.log build-san/test-suite.log build/distcheck.log build-fuzz/fuzz.tap
phase() { echo "check.sh: $1 took $(( $(date +%s) - $2 )) s"; }
status=0
# A phase that fails without a failed test of its own (a build error, a
# failure inside make distcheck, whose logs go with its temp tree) still
# counts as one failure in the closing line, so the line never hides it.
failed_phases=0
fail_phase() { status=1; failed_phases=$((failed_phases + 1)); echo "check.sh: FAILED: $1"; }
t=$(date +%s); run_suite build check || fail_phase "build + make check"; phase "build + make check" "$t"
if [ $quick -eq 0 ] && [ $status -eq 0 ]; then
  # distcheck's own test logs go with its temp tree; its output keeps the
  # summary ("# PASS: N" ...) that the totals below count.
  # distcheck proves the tarball: every tracked file is in it (checked
  # below against git), it builds out of a read-only tree, installs,
  # uninstalls and cleans, and the suite runs there.  The end-to-end tests
  # that take longest (DIST_HEAVY) ran a phase earlier on the same sources,
  # and the file check covers their data, so distcheck leaves them out.
  t=$(date +%s)
  DIST_HEAVY="tests/grow/grow.sh tests/grow/zero.sh tests/grow/branch.sh tests/hpc/slurm.sh tests/grow/overlap.sh
    tests/cli/eval.sh tests/eval/combine.sh tests/cli/outguard.sh tests/grow/cache.sh tests/store/export.sh
    tests/hpc/local.sh tests/cli/tasks.sh tests/hpc/pbs.sh tests/eval/readme.sh"
  # shellcheck disable=SC2016 # $(TESTS) is for make, not the shell
  all_tests=$(cd build && printf 'print-tests:\n\t@echo $(TESTS)\n' | make -s -f Makefile -f - print-tests)
  heavy=" $(tr -s ' \n' ' ' <<<"$DIST_HEAVY") "
  dist_tests=$(for x in $all_tests; do case $heavy in *" $x "*) ;; *) echo "$x" ;; esac; done | tr '\n' ' ')
  (cd build && make -j"$jobs" distcheck TESTS="$dist_tests") 2>&1 | tee build/distcheck.log || fail_phase "make distcheck"
  echo "distcheck: $(counts build/distcheck.log | awk '{print $1 " passed, " $2 " failed"}') ($(wc -w <<<"$dist_tests") of $(wc -w <<<"$all_tests") tests)"
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # every tracked file but the two that only serve git must be in the tarball
    tarball=$(ls -t build/strata-*.tar.gz | head -1)
    missing=$(comm -23 <(git ls-files | grep -vx -e .gitignore -e build-aux/.keep | sort) \
      <(tar tzf "$tarball" | sed 's|^[^/]*/||' | sort))
    if [ -n "$missing" ]; then
      echo "distcheck: tracked files missing from $tarball (add them to EXTRA_DIST):"
      echo "$missing" | sed 's/^/  /'
      fail_phase "make distcheck: files missing from the tarball"
    else
      echo "distcheck: every tracked file is in $tarball"
    fi
  fi
  phase "make distcheck" "$t"
  t=$(date +%s); run_suite build-san sanitizers --enable-sanitizers || fail_phase "sanitizers"; phase "sanitizers" "$t"
  # Each harness is one test in the totals below (its TAP line in build-fuzz/fuzz.tap).
  mkdir -p build-fuzz
  t=$(date +%s); bash tools/fuzz.sh | tee build-fuzz/fuzz.tap || fail_phase "fuzzing"; phase "fuzzing" "$t"
fi
echo "check.sh: finished in $(( $(date +%s) - start )) s"
# One closing line for CI: the totals over every suite that ran (make
# check, distcheck, sanitizers, fuzzing).  A failed phase with no failed
# test of its own counts as one failure, and any failure makes the exit
# status 1: the line and the status always agree.
read -r passed failed < <(
  { cat build/test-suite.log build-san/test-suite.log 2>/dev/null
    sed 's/\x1b\[[0-9;]*m//g' build/distcheck.log 2>/dev/null | grep -E '^# (PASS|FAIL|ERROR|XPASS):'
    sed -n -e 's/^ok .*/# PASS: 1/p' -e 's/^not ok .*/# FAIL: 1/p' build-fuzz/fuzz.tap 2>/dev/null; } | counts)
[ "$failed" -eq 0 ] && [ "$failed_phases" -gt 0 ] && failed=$failed_phases
[ "$failed" -gt 0 ] && status=1
suites="make check"
[ -f build/distcheck.log ] && suites="$suites, distcheck"
[ -f build-san/test-suite.log ] && suites="$suites, sanitizers"
[ -f build-fuzz/fuzz.tap ] && suites="$suites, fuzzing"
echo "$passed passed, $failed failed ($suites)"
exit $status

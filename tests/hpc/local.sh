#!/bin/sh
# local.sh -- jobs/local/grow.sh: SIGTERM to the script ends in a clean
# checkpoint and exit 75; running it again resumes and finishes.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/hpc/hpc-lib.sh"

cd "$T" || exit 1
run=$T/checkpoints/smoke
grow_fg() { # grow_fg: the workstation launcher on smoke.ini with 2 ranks
    bash "$top_srcdir/jobs/local/grow.sh" "$top_srcdir/jobs/configs/smoke.ini" 2 -- \
        --set "data.corpus=$top_srcdir/tests/data/moby-60k.txt" --set "run.dir=$T/checkpoints"
}

# 1. SIGTERM to the script in stage 2.  STRATA_TEST_WAIT_STOP_AT_STEP makes
#    the ranks wait after step 450 (stage 2 of 300-step stages) until the
#    stop arrives: the outcome does not depend on timing (hpc-lib.sh).
STRATA_TEST_WAIT_STOP_AT_STEP=$mid2 bash "$top_srcdir/jobs/local/grow.sh" "$top_srcdir/jobs/configs/smoke.ini" 2 -- \
    --set "data.corpus=$top_srcdir/tests/data/moby-60k.txt" --set "run.dir=$T/checkpoints" >"$T/out" 2>"$T/err" &
pid=$!
waiting_at "$mid2" "$T/err" || echo "# the ranks never reached step $mid2"
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 75 ] && ok "SIGTERM to grow.sh: exit 75" || { not_ok "SIGTERM to grow.sh: exit $rc"; tail -5 "$T/err" | sed 's/^/# /'; }
expect_grep "got SIGTERM" "$T/err" "the script forwarded it as SIGUSR1"
latest=$(cat "$run/LATEST" 2>/dev/null)
[ "$latest" = "$(step_file "$mid2")" ] && ok "stopped mid-stage with a checkpoint ($latest)" ||
    not_ok "stopped mid-stage with a checkpoint (LATEST '$latest', wanted $(step_file "$mid2"))"
[ -f "$run/stage-001.h5" ] && [ ! -f "$run/stage-002.h5" ] && ok "step $mid2 lies in stage 2" ||
    not_ok "step $mid2 lies in stage 2 ($(ls "$run" | tr '\n' ' '))"

# 3. Again: resumes and finishes.
expect_exit 0 "the second start finishes" -- grow_fg
expect_grep "resuming" "$T/err" "it resumed"
[ -f "$run/stage-003.h5" ] && ok "all 3 stages done" || not_ok "all 3 stages done"

# 4. Bad input.
expect_exit 2 "RANKS that is not a number" -- bash "$top_srcdir/jobs/local/grow.sh" "$top_srcdir/jobs/configs/smoke.ini" two
expect_grep "RANKS must be a positive number" "$T/err" "and says so"
finish

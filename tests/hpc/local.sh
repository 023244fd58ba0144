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

# 1. SIGTERM to the script in stage 2.
bash "$top_srcdir/jobs/local/grow.sh" "$top_srcdir/jobs/configs/smoke.ini" 2 -- \
    --set "data.corpus=$top_srcdir/tests/data/moby-60k.txt" --set "run.dir=$T/checkpoints" >"$T/out" 2>"$T/err" &
pid=$!
wait_file "$run/stage-001.h5" && freeze "$T/checkpoints"
kill -TERM $pid
poll 30 all_pending 10 || echo "# SIGUSR1 not pending on every rank"
thaw
wait $pid
rc=$?
[ $rc -eq 75 ] && ok "SIGTERM to grow.sh: exit 75" || { not_ok "SIGTERM to grow.sh: exit $rc"; tail -5 "$T/err" | sed 's/^/# /'; }
expect_grep "got SIGTERM" "$T/err" "the script forwarded it as SIGUSR1"
case $(cat "$run/LATEST" 2>/dev/null) in
    step-*) ok "stopped mid-stage with a checkpoint ($(cat "$run/LATEST"))" ;;
    *) not_ok "stopped mid-stage with a checkpoint (LATEST '$(cat "$run/LATEST" 2>/dev/null)')" ;;
esac

# 3. Again: resumes and finishes.
expect_exit 0 "the second start finishes" -- grow_fg
expect_grep "resuming" "$T/err" "it resumed"
[ -f "$run/stage-003.h5" ] && ok "all 3 stages done" || not_ok "all 3 stages done"

# 4. Bad input.
expect_exit 2 "RANKS that is not a number" -- bash "$top_srcdir/jobs/local/grow.sh" "$top_srcdir/jobs/configs/smoke.ini" two
expect_grep "RANKS must be a positive number" "$T/err" "and says so"
finish

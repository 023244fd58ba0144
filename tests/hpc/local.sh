#!/bin/sh
# local.sh -- jobs/local/grow.sh: SIGTERM to the script and a Ctrl-C (SIGINT
# to the whole process group, mpirun and ranks included) both end in a
# clean checkpoint and exit 75; running it again resumes and finishes.
. "$top_srcdir/tests/lib.sh"

cd "$T" || exit 1
run=$T/checkpoints/smoke
grow_fg() { # grow_fg: the workstation launcher on smoke.ini with 2 ranks
    bash "$top_srcdir/jobs/local/grow.sh" "$top_srcdir/jobs/configs/smoke.ini" 2 -- \
        --set "data.corpus=$top_srcdir/tests/data/moby-60k.txt"
}
wait_for() { # wait_for FILE: up to 90 s
    i=0
    while [ ! -f "$1" ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
    [ -f "$1" ]
}

# 1. SIGTERM to the script in stage 2.
bash "$top_srcdir/jobs/local/grow.sh" "$top_srcdir/jobs/configs/smoke.ini" 2 -- \
    --set "data.corpus=$top_srcdir/tests/data/moby-60k.txt" >"$T/out" 2>"$T/err" &
pid=$!
wait_for "$run/stage-001.h5" && sleep 0.2
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 75 ] && ok "SIGTERM to grow.sh: exit 75" || { not_ok "SIGTERM to grow.sh: exit $rc"; tail -5 "$T/err" | sed 's/^/# /'; }
expect_grep "got SIGTERM" "$T/err" "the script forwarded it"
case $(cat "$run/LATEST" 2>/dev/null) in
    step-*) ok "stopped mid-stage with a checkpoint ($(cat "$run/LATEST"))" ;;
    *) not_ok "stopped mid-stage with a checkpoint (LATEST '$(cat "$run/LATEST" 2>/dev/null)')" ;;
esac

# 2. Ctrl-C in stage 3: SIGINT to the whole process group.  A background job
#    of a script starts with SIGINT ignored, which a shell cannot trap, so
#    reset it; setsid makes the launcher a process group leader.
if env --default-signal=INT true 2>/dev/null; then
    setsid env --default-signal=INT bash "$top_srcdir/jobs/local/grow.sh" "$top_srcdir/jobs/configs/smoke.ini" 2 -- \
        --set "data.corpus=$top_srcdir/tests/data/moby-60k.txt" >"$T/out" 2>"$T/err" &
    pid=$!
    wait_for "$run/stage-002.h5" && sleep 0.2
    if [ "$(ps -o pgid= -p $pid | tr -d ' ')" = "$pid" ]; then
        /bin/kill -INT -- "-$pid"
        wait $pid
        rc=$?
        [ $rc -eq 75 ] && ok "Ctrl-C (SIGINT to the process group): exit 75" ||
            { not_ok "Ctrl-C (SIGINT to the process group): exit $rc"; tail -5 "$T/err" | sed 's/^/# /'; }
        expect_grep "resuming" "$T/err" "the second start resumed"
    else
        kill -TERM $pid
        wait $pid
        tap_n=$((tap_n + 2))
        echo "ok $((tap_n - 1)) # SKIP setsid did not make a process group"
        echo "ok $tap_n # SKIP setsid did not make a process group"
    fi
else
    tap_n=$((tap_n + 2))
    echo "ok $((tap_n - 1)) # SKIP env --default-signal not available"
    echo "ok $tap_n # SKIP env --default-signal not available"
fi

# 3. Again: resumes and finishes.
expect_exit 0 "the third start finishes" -- grow_fg
expect_grep "resuming" "$T/err" "it resumed"
[ -f "$run/stage-003.h5" ] && ok "all 3 stages done" || not_ok "all 3 stages done"

# 4. Bad input.
expect_exit 2 "RANKS that is not a number" -- bash "$top_srcdir/jobs/local/grow.sh" "$top_srcdir/jobs/configs/smoke.ini" two
expect_grep "RANKS must be a positive number" "$T/err" "and says so"
finish

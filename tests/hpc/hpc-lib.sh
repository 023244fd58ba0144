# hpc-lib.sh -- helpers for the tests in tests/hpc/ (source after lib.sh).
#
# The smoke run is short (stages of 0.3 s on an idle machine, several
# seconds on a busy one), so a stop request cannot be timed with sleeps, and
# freezing the ranks when a stage file appears still let the stop land on
# the stage boundary now and then.  Instead the job runs with
# STRATA_TEST_WAIT_STOP_AT_STEP=N (src/grow/grow.c): after global step N the
# ranks log "test hook: step N done, waiting for a stop request" and wait
# for the stop; the test waits for that line, then sends the stop the way
# the scheduler would.  The stop lands after step N however loaded the
# machine is, and the checkpoint is step-N.
#
# jobs/configs/smoke.ini has 3 stages of 300 steps (global steps 1-300,
# 301-600, 601-900): mid2 and mid3 lie in the middle of stages 2 and 3.
mid2=450
mid3=750
# step_file N: the name of the checkpoint a stop after step N writes
step_file() { printf 'step-%08d.h5' "$1"; }
# waiting_at N FILE [SECONDS]: FILE (the job's log) says the ranks wait after step N
waiting_at() {
    poll "${3:-180}" grep -qs "test hook: step $1 done, waiting for a stop request" "$2"
}
# wait_file FILE [SECONDS]: poll every 0.05 s until FILE exists (default 120 s)
wait_file() {
    n=$(( ${2:-120} * 20 ))
    i=0
    while [ ! -e "$1" ] && [ $i -lt $n ]; do sleep 0.05; i=$((i + 1)); done
    [ -e "$1" ]
}
# poll SECONDS CMD...: run CMD every 0.1 s until it succeeds or time is up
poll() {
    limit=$(( $(date +%s) + $1 ))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$limit" ] || return 1
        sleep 0.1
    done
}

# hpc-lib.sh -- helpers for the tests in tests/hpc/ (source after lib.sh).
#
# The smoke run is short (stages of 0.3 s on an idle machine, several
# seconds on a busy one), so a stop request cannot be timed with sleeps.
# Instead the test freezes the ranks (SIGSTOP) at the moment it wants to
# stop them, sends the stop the way a scheduler would, waits until every
# rank has the signal pending (/proc/PID/status ShdPnd), and thaws them:
# the stop lands exactly there, however loaded the machine is.

# ranks_of TEXT: PIDs of the strata processes whose command line holds TEXT
ranks_of() {
    for p in $(pgrep -x strata); do
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$1" && echo "$p"
    done
}
# freeze TEXT: SIGSTOP those ranks; their PIDs are kept in $frozen
freeze() {
    frozen=$(ranks_of "$1")
    [ -n "$frozen" ] && kill -STOP $frozen
}
# thaw: SIGCONT the frozen ranks
thaw() {
    [ -n "${frozen:-}" ] && kill -CONT $frozen 2>/dev/null
    frozen=
    return 0
}
# all_pending SIGNUM...: every frozen rank has one of SIGNUM... pending (or
# has exited, or was thawed by someone else)
all_pending() {
    for p in $frozen; do
        m=$(sed -n 's/^ShdPnd:[[:space:]]*//p' "/proc/$p/status" 2>/dev/null) || continue
        [ -n "$m" ] || continue
        # Thawed already (Slurm and mpirun send SIGCONT before SIGTERM)?
        grep -q '^State:[[:space:]]*T' "/proc/$p/status" 2>/dev/null || continue
        hit=0
        for sig in "$@"; do
            [ $(( (0x$m >> (sig - 1)) & 1 )) -eq 1 ] && hit=1
        done
        [ $hit -eq 1 ] || return 1
    done
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

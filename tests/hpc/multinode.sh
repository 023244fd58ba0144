#!/bin/sh
# multinode.sh -- strata across two "nodes" on this machine: two network
# namespaces joined by a veth pair, each with an address that exists only
# inside it (10.213.0.1/24, 10.213.0.2/24).  mpirun runs in node A and
# starts node B's daemon through tests/hpc/netns-agent.sh (an ssh stand-in
# that enters B's namespace); all MPI and out-of-band traffic is TCP over
# the veth pair, restricted to that /24.  Checks:
#   1. a growth run on 2 nodes x 1 rank ends bitwise equal to 2 ranks on
#      one node (strata inspect --sha256 of the last stage file);
#   2. SIGKILL of node B's rank mid-stage fails the job cleanly: mpirun
#      exits 137 (128 + SIGKILL, docs/HPC.md) within the time limit, no hang;
#   3. the run resumes on node A alone (2 ranks) and ends bitwise equal to 1.
# Skipped (TAP SKIP) unless root with a working `ip netns`.  Namespaces and
# processes are removed on every exit path.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/hpc/hpc-lib.sh"

PATH=$PATH:/usr/sbin:/sbin
if [ "$(id -u)" -ne 0 ]; then
    echo "1..0 # SKIP network namespaces need root"
    exit 0
fi
if ! command -v ip >/dev/null 2>&1; then
    echo "1..0 # SKIP no ip command (iproute2)"
    exit 0
fi

# Names unique to this test process; veth names are at most 15 bytes.
nsA=strata-mn$$-a nsB=strata-mn$$-b vA=smn$$a vB=smn$$b
addrA=10.213.0.1 addrB=10.213.0.2 net=10.213.0.0/24
bg=
cleanup() {
    trap '' INT TERM HUP
    [ -n "$bg" ] && kill -KILL "$bg" 2>/dev/null
    for ns in $nsA $nsB; do
        # every process still inside a namespace is one this test started
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    done
    for ns in $nsA $nsB; do
        ip netns del "$ns" 2>/dev/null # takes its end of the veth pair along
    done
    ip link del "$vA" 2>/dev/null # only if the test stopped before moving it
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if ! ip netns add "$nsA" 2>"$T/netns.err"; then
    echo "1..0 # SKIP ip netns unavailable: $(head -1 "$T/netns.err")"
    exit 0
fi
if ip netns add "$nsB" &&
    ip link add "$vA" type veth peer name "$vB" &&
    ip link set "$vA" netns "$nsA" && ip link set "$vB" netns "$nsB" &&
    ip -n "$nsA" addr add "$addrA/24" dev "$vA" && ip -n "$nsB" addr add "$addrB/24" dev "$vB" &&
    ip -n "$nsA" link set lo up && ip -n "$nsB" link set lo up &&
    ip -n "$nsA" link set "$vA" up && ip -n "$nsB" link set "$vB" up; then
    ok "two namespaces joined by a veth pair ($addrA, $addrB)"
else
    not_ok "two namespaces joined by a veth pair"
    finish
fi

tiny_config "$T/tiny.ini"
export OPENBLAS_NUM_THREADS=1
export STRATA_NETNS_MAP="$addrA=$nsA $addrB=$nsB"
printf '%s slots=1\n%s slots=1\n' "$addrA" "$addrB" >"$T/hosts2"
printf '%s slots=2\n' "$addrA" >"$T/hosts1"
# mpirun_in_A HOSTFILE NP ARGS...: mpirun inside node A; node B (if in the
# hostfile) is reached through the agent.  Only TCP on the /24: no shared
# memory between the "nodes", no other interface.
mpirun_in_A() {
    hf=$1 np=$2
    shift 2
    timeout 90 ip netns exec "$nsA" "${MPIRUN:-mpirun}" --hostfile "$hf" -np "$np" \
        --mca plm_rsh_agent "$top_srcdir/tests/hpc/netns-agent.sh" \
        --mca btl tcp,self --mca btl_tcp_if_include "$net" --mca oob_tcp_if_include "$net" \
        -x OPENBLAS_NUM_THREADS ${STRATA_TEST_WAIT_STOP_AT_STEP:+-x STRATA_TEST_WAIT_STOP_AT_STEP} "$STRATA" "$@"
}
args() { # args NAME: the tiny config as run NAME
    echo "grow --config $T/tiny.ini --set run.name=$1"
}

# Reference: 2 ranks on one node (the host's own namespace).
expect_exit 0 "2 ranks on one node" -- run 2 -- $(args ref)
sha "$T/ck/ref/stage-003.h5" >"$T/ref.sha"

# 1. 2 nodes x 1 rank.
expect_exit 0 "2 nodes x 1 rank over TCP" -- mpirun_in_A "$T/hosts2" 2 $(args two)
if sha "$T/ck/two/stage-003.h5" | cmp -s - "$T/ref.sha" && [ -s "$T/ref.sha" ]; then
    ok "2 nodes x 1 rank ends bitwise equal to 2 ranks on one node"
else
    not_ok "2 nodes x 1 rank ends bitwise equal to 2 ranks on one node"
    sha "$T/ck/two/stage-003.h5" | diff - "$T/ref.sha" | head -6 | sed 's/^/# /'
fi

# 2. Kill node B's rank in stage 2, at a known step whatever the load: the
# test hook makes both ranks wait after global step 16 (stage 2 of 12-step
# stages) until a stop request, which never comes; SIGKILL the rank in node B.
STRATA_TEST_WAIT_STOP_AT_STEP=16 mpirun_in_A "$T/hosts2" 2 $(args kill) >"$T/kill.out" 2>"$T/kill.err" &
unset STRATA_TEST_WAIT_STOP_AT_STEP
bg=$!
killed=
if poll 60 grep -q "test hook: step 16 done" "$T/kill.err"; then
    for p in $(pgrep -f "run.name=kill"); do
        [ "$(ip netns identify "$p" 2>/dev/null)" = "$nsB" ] && ps -o comm= -p "$p" | grep -q strata && killed=$p
    done
fi
[ -n "$killed" ] && kill -KILL "$killed"
started=$(date +%s)
wait "$bg"
rc=$?
bg=
took=$(( $(date +%s) - started ))
if [ -n "$killed" ] && [ $rc -eq 137 ]; then
    ok "node B's rank killed mid-stage: the job fails cleanly with exit 137 after ${took} s"
else
    not_ok "node B's rank killed mid-stage: the job fails cleanly (killed '${killed}', exit $rc after ${took} s)"
    tail -8 "$T/kill.err" | sed 's/^/# /'
fi
[ ! -e "$T/ck/kill/stage-002.h5" ] && ok "it stopped inside stage 2" || not_ok "it stopped inside stage 2"
left=$(ip netns pids "$nsA" 2>/dev/null; ip netns pids "$nsB" 2>/dev/null)
[ -z "$left" ] && ok "no process left on either node" || not_ok "no process left on either node ($left)"

# 3. Resume on node A alone, with the same rank count.
expect_exit 0 "the run resumes on one node (2 ranks in node A)" -- mpirun_in_A "$T/hosts1" 2 $(args kill)
expect_grep "resuming" "$T/err" "it resumed from a checkpoint"
expect_grep "took over the stale lock" "$T/err" "and took over the lock the killed job left"
if sha "$T/ck/kill/stage-003.h5" | cmp -s - "$T/ref.sha" && [ -s "$T/ref.sha" ]; then
    ok "the resumed run ends bitwise equal to the uninterrupted one"
else
    not_ok "the resumed run ends bitwise equal to the uninterrupted one"
fi
finish

#!/bin/sh
# netns-agent.sh HOST COMMAND... -- Open MPI's launch agent for
# tests/hpc/multinode.sh (`--mca plm_rsh_agent`): where mpirun would ssh to
# HOST, it runs COMMAND (orted's command line, one shell string as ssh
# would pass it) inside the network namespace that plays HOST.
# STRATA_NETNS_MAP lists the nodes as "ADDRESS=NAMESPACE ...".
host=$1
shift
for pair in ${STRATA_NETNS_MAP:-}; do
    if [ "${pair%%=*}" = "$host" ]; then
        exec ip netns exec "${pair#*=}" /bin/sh -c "$*"
    fi
done
echo "netns-agent.sh: no namespace for host '$host' in STRATA_NETNS_MAP='${STRATA_NETNS_MAP:-}'" >&2
exit 1

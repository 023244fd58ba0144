## HPC batch jobs: Slurm/PBS scripts and the single-node Slurm test
## (tests/hpc/slurm.sh is a TAP SKIP unless Slurm and munge are installed), and
## two nodes in network namespaces (tests/hpc/multinode.sh, a SKIP unless root).
TESTS += tests/hpc/scripts.sh tests/hpc/local.sh tests/hpc/pbs.sh tests/hpc/slurm.sh tests/hpc/multinode.sh
EXTRA_DIST += tests/hpc/hpc-lib.sh tests/hpc/scripts.sh tests/hpc/local.sh tests/hpc/pbs.sh tests/hpc/slurm.sh \
	tests/hpc/multinode.sh tests/hpc/netns-agent.sh \
	jobs/slurm/grow.sbatch jobs/slurm/prepare.sbatch jobs/slurm/eval.sbatch \
	jobs/pbs/grow.pbs \
	tools/slurm-start.sh tools/slurm-stop.sh docs/HPC.md

## HPC batch jobs: Slurm/PBS scripts and the single-node Slurm test
## (tests/hpc/slurm.sh is a TAP SKIP unless Slurm and munge are installed).
TESTS += tests/hpc/scripts.sh tests/hpc/local.sh tests/hpc/pbs.sh tests/hpc/slurm.sh
EXTRA_DIST += tests/hpc/hpc-lib.sh tests/hpc/scripts.sh tests/hpc/local.sh tests/hpc/pbs.sh tests/hpc/slurm.sh \
	jobs/slurm/grow.sbatch jobs/slurm/prepare.sbatch jobs/slurm/eval.sbatch \
	jobs/pbs/grow.pbs \
	tools/slurm-start.sh tools/slurm-stop.sh docs/HPC.md

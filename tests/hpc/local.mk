## HPC batch jobs: Slurm/PBS scripts and the single-node Slurm test

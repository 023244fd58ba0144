## jobs: the batch job scripts and example configs, installed under
## $(pkgdatadir) so they run from an installed strata (docs/HPC.md).
jobsslurmdir = $(pkgdatadir)/jobs/slurm
dist_jobsslurm_SCRIPTS = jobs/slurm/grow.sbatch jobs/slurm/prepare.sbatch jobs/slurm/eval.sbatch
jobspbsdir = $(pkgdatadir)/jobs/pbs
dist_jobspbs_SCRIPTS = jobs/pbs/grow.pbs
jobslocaldir = $(pkgdatadir)/jobs/local
dist_jobslocal_SCRIPTS = jobs/local/grow.sh

## Example configs.  smoke.ini's paths are relative to the working
## directory (the source tree's top for tests/); the installed copy reads
## the sample text installed with it ($(pkgdatadir)/data/moby-60k.txt), so
## it runs from any directory.  It is written at install time, when the
## final $(pkgdatadir) is known (`make install prefix=...` included).
exampledir = $(pkgdatadir)/configs
dist_example_DATA = jobs/configs/demo.ini
EXTRA_DIST += jobs/configs/smoke.ini
sampledir = $(pkgdatadir)/data
dist_sample_DATA = tests/data/moby-60k.txt
install-data-local: install-smoke-config
uninstall-local: uninstall-smoke-config
.PHONY: install-smoke-config uninstall-smoke-config
install-smoke-config:
	$(MKDIR_P) '$(DESTDIR)$(exampledir)'
	sed -e 's|^corpus = tests/data/moby-60k.txt$$|corpus = $(sampledir)/moby-60k.txt|' \
	    -e 's|^; Paths are relative to.*|; Installed copy: data.corpus is the sample installed with strata; the other|' \
	    -e 's|^; the strata source tree (or --set data.corpus=.*|; paths (run dir, dataset, substrate) are relative to the working directory.|' \
	    '$(srcdir)/jobs/configs/smoke.ini' >'$(DESTDIR)$(exampledir)/smoke.ini'
	grep -q '^corpus = $(sampledir)/moby-60k.txt$$' '$(DESTDIR)$(exampledir)/smoke.ini'
uninstall-smoke-config:
	rm -f '$(DESTDIR)$(exampledir)/smoke.ini'

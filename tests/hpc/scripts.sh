#!/bin/sh
# scripts.sh -- every job script under jobs/ (and the tools/slurm-*.sh
# helpers) parses with `bash -n`, is clean under shellcheck (a TAP SKIP when
# shellcheck is not installed; tools/deps.sh installs it) and starts with a
# header that says what a site must change.
. "$top_srcdir/tests/lib.sh"

scripts=$(cd "$top_srcdir" && find jobs tools -type f \( -name '*.sh' -o -name '*.sbatch' -o -name '*.pbs' \) \
    \( -path 'jobs/*' -o -name 'slurm-*.sh' \) | LC_ALL=C sort)
n=$(echo "$scripts" | grep -c .)
[ "$n" -ge 6 ] && ok "found $n job scripts" || not_ok "found only $n job scripts"

have_shellcheck=0
command -v shellcheck >/dev/null 2>&1 && have_shellcheck=1
for s in $scripts; do
    f=$top_srcdir/$s
    expect_exit 0 "bash -n $s" -- bash -n "$f"
    if [ $have_shellcheck -eq 1 ]; then
        if shellcheck -x "$f" >"$T/sc" 2>&1; then ok "shellcheck $s"; else
            not_ok "shellcheck $s"
            sed 's/^/# /' "$T/sc" | head -20
        fi
    else
        tap_n=$((tap_n + 1))
        echo "ok $tap_n # SKIP shellcheck $s: shellcheck not installed"
    fi
    case $s in
        jobs/*)
            head -40 "$f" | grep -qi "site must change\|site may change" &&
                ok "$s: header says what a site must change" ||
                not_ok "$s: header says what a site must change" ;;
    esac
done

# The batch directives the issue asks for.
g=$top_srcdir/jobs/slurm/grow.sbatch
for d in "--signal=B:USR1@" "--requeue" "--open-mode=append"; do
    grep -q "^#SBATCH $d" "$g" && ok "grow.sbatch sets $d" || not_ok "grow.sbatch sets $d"
done
grep -q '^#PBS -r y' "$top_srcdir/jobs/pbs/grow.pbs" && ok "grow.pbs is rerunnable (-r y)" ||
    not_ok "grow.pbs is rerunnable (-r y)"
finish

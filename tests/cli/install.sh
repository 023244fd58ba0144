#!/bin/sh
# install.sh -- `make install` puts strata, strata(1), the bash completion,
# the docs, the job scripts and the example configs in place; the man page
# renders, the completion completes a command, an option and a setting key;
# the installed smoke.ini runs from an empty directory; `make uninstall`
# takes everything away again.
. "$top_srcdir/tests/lib.sh"
make=${MAKE:-make}
D=$T/d
if $make -s -C "$top_builddir" install DESTDIR="$D" >"$T/install.log" 2>&1; then
    ok "make install DESTDIR=..."
else
    not_ok "make install DESTDIR=..."
    tail -20 "$T/install.log" | sed 's/^/# /'
fi
# find_one PATTERN: the one installed file whose path ends in PATTERN
find_one() { find "$D" -path "*$1" -type f | head -1; }
for f in /bin/strata /man1/strata.1 /completions/strata /doc/strata/README /doc/strata/HPC.md /doc/strata/FORMAT.md \
    /strata/jobs/slurm/grow.sbatch /strata/jobs/slurm/prepare.sbatch /strata/jobs/slurm/eval.sbatch \
    /strata/jobs/pbs/grow.pbs /strata/jobs/local/grow.sh /strata/configs/smoke.ini /strata/configs/demo.ini \
    /strata/data/moby-60k.txt; do
    [ -n "$(find_one "$f")" ] && ok "installed: ...$f" || not_ok "installed: ...$f"
done
[ -x "$(find_one /strata/jobs/slurm/grow.sbatch)" ] && [ -x "$(find_one /strata/jobs/local/grow.sh)" ] &&
    ok "job scripts are executable" || not_ok "job scripts are executable"
smoke=$(find_one /strata/configs/smoke.ini)
grep -q 'tests/data' "$smoke" && not_ok "installed smoke.ini does not point into the source tree" ||
    ok "installed smoke.ini does not point into the source tree"

# The man page renders and holds the commands and the settings.
man1=$(find_one /man1/strata.1)
if command -v man >/dev/null 2>&1; then
    MANWIDTH=100 man -l "$man1" >"$T/man.txt" 2>"$T/man.err"
elif command -v groff >/dev/null 2>&1; then
    groff -man -Tutf8 "$man1" >"$T/man.txt" 2>"$T/man.err"
else
    cp "$man1" "$T/man.txt"
fi
[ -s "$T/man.txt" ] && [ ! -s "$T/man.err" ] && ok "strata(1) renders without warnings" || {
    not_ok "strata(1) renders without warnings"
    head -5 "$T/man.err" | sed 's/^/# /'
}
for w in "strata grow" "strata eval" "model.n_heads" "EXIT STATUS" "--config"; do
    grep -qF -- "$w" "$T/man.txt" && ok "strata(1) mentions $w" || not_ok "strata(1) mentions $w"
done
"$STRATA" --help-man | cmp -s - "$man1" && ok "the installed page is what the binary prints" ||
    not_ok "the installed page is what the binary prints"

# The completion completes in bash.
comp=$(find_one /completions/strata)
complete_words() { # complete_words WORD...: COMPREPLY for the last word
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _strata; printf "%s\n" "${COMPREPLY[@]}"' \
        sh "$comp" "$@" 2>&1
}
[ "$(complete_words strata gr)" = grow ] && ok "completes a command (gr -> grow)" ||
    not_ok "completes a command (gr -> grow: '$(complete_words strata gr)')"
complete_words strata grow --con | grep -qx -- --config && ok "completes an option (--con -> --config)" ||
    not_ok "completes an option (--con -> --config)"
[ "$(complete_words strata grow --set model.n_he)" = model.n_heads= ] &&
    ok "completes a setting key after --set (model.n_he -> model.n_heads=)" ||
    not_ok "completes a setting key after --set ('$(complete_words strata grow --set model.n_he)')"
complete_words strata prepare --log-level d | grep -qx debug && ok "completes --log-level values" ||
    not_ok "completes --log-level values"

# --version names the source and the libraries.
"$(find_one /bin/strata)" --version >"$T/version" 2>&1
for w in "^strata [0-9]" "^MPI: " "^HDF5: " "^OpenBLAS: .*core " "^FreeType: " "^compiler: "; do
    grep -q "$w" "$T/version" && ok "--version: $w" || not_ok "--version: $w"
done

# The installed smoke.ini runs from an empty directory (a real prefix, so
# the config's path to the sample text is right; tiny stages).
P=$T/p
$make -s -C "$top_builddir" install prefix="$P" bashcompdir="$P/share/bash-completion/completions" \
    >"$T/install2.log" 2>&1 || { not_ok "make install prefix=..."; tail -5 "$T/install2.log" | sed 's/^/# /'; }
mkdir "$T/empty"
(cd "$T/empty" && timeout 300 "$P/bin/strata" grow --config "$P/share/strata/configs/smoke.ini" \
    --set grow.steps=8 --set eval.interval=4 --set ckpt.interval=0) >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] && [ -f "$T/empty/checkpoints/smoke/stage-003.h5" ] &&
    ok "the installed smoke.ini grows 3 blocks from an empty directory" || {
    not_ok "the installed smoke.ini grows 3 blocks from an empty directory (exit $rc)"
    tail -5 "$T/err" | sed 's/^/# /'
}
[ -z "$(find "$P" -newer "$T/install2.log" -type f)" ] && ok "the run wrote nothing into the installation" ||
    not_ok "the run wrote nothing into the installation"

# make uninstall leaves no file behind.
$make -s -C "$top_builddir" uninstall DESTDIR="$D" >"$T/uninstall.log" 2>&1
left=$(find "$D" -type f | head -3)
[ -z "$left" ] && ok "make uninstall removes every installed file" || not_ok "make uninstall leaves $left"
finish

#!/bin/sh
# firstuse.sh -- what a new user meets first: grow without settings stops
# with a usage message and touches nothing; the checkpoint readers take a
# run directory or its LATEST (the newest usable checkpoint, named in the
# log); a directory without checkpoints or a file that is not HDF5 gives one
# line and a documented exit code; a finished run says so and prints its
# table.
. "$top_srcdir/tests/lib.sh"

mkdir "$T/empty"
(cd "$T/empty" && "$STRATA" grow) >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 2 ] && ok "grow without --config/--set: exit 2" || not_ok "grow without --config/--set: exit $rc"
expect_grep "use --config FILE" "$T/err" "and says what to give"
[ -z "$(ls -A "$T/empty")" ] && ok "and creates nothing (no checkpoints/demo)" ||
    not_ok "and creates nothing ($(ls -A "$T/empty"))"

# one_line CMD...: exit code of CMD; its stderr must be a single line
one_line() {
    "$@" >"$T/out" 2>"$T/err"
    echo $?
}
rc=$(one_line "$STRATA" metrics "$T/empty")
[ "$rc" -eq 4 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && ok "metrics on a directory without checkpoints: exit 4, one line" ||
    { not_ok "metrics on a directory without checkpoints: exit $rc, $(wc -l <"$T/err") lines"; sed 's/^/# /' "$T/err" | head -5; }
expect_grep "no checkpoint in" "$T/err" "which says there is no checkpoint"
echo "not a checkpoint" >"$T/notes.txt"
for cmd in metrics inspect; do
    rc=$(one_line "$STRATA" $cmd "$T/notes.txt")
    [ "$rc" -eq 3 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "not an HDF5 file" "$T/err" &&
        ok "$cmd on a text file: exit 3, one line 'not an HDF5 file'" ||
        { not_ok "$cmd on a text file: exit $rc"; sed 's/^/# /' "$T/err" | head -5; }
done

# Each command's --help lists the settings it reads, and only those.
"$STRATA" prepare --help >"$T/help" 2>&1
grep -q "^  data.corpus " "$T/help" && grep -q "^  tokenizer.vocab_size " "$T/help" && ! grep -q "^  model\." "$T/help" &&
    ok "prepare --help lists [data] and [tokenizer], not [model]" || not_ok "prepare --help lists the wrong settings"
"$STRATA" substrate --help >"$T/help" 2>&1
grep -q "^  substrate.dim " "$T/help" && ! grep -q "^  train\." "$T/help" &&
    ok "substrate --help lists [substrate], not [train]" || not_ok "substrate --help lists the wrong settings"
"$STRATA" grow --help >"$T/help" 2>&1
grep -q "^  model.n_heads " "$T/help" && grep -q "^  grow.steps " "$T/help" && ok "grow --help lists every section" ||
    not_ok "grow --help lists every section"

# A tiny run, then every reader on its directory and on its LATEST.
tiny_config "$T/run.ini"
expect_exit 0 "a tiny run grows" -- run 1 -- grow --config "$T/run.ini" --set run.name=r
R=$T/ck/r
newest=$R/$(cat "$R/LATEST")
expect_exit 0 "inspect RUN_DIR" -- "$STRATA" inspect "$R"
expect_grep "using $newest, the newest usable checkpoint" "$T/err" "names the checkpoint it chose"
grep -q "^$newest: strata checkpoint file" "$T/out" && ok "and describes that file" || not_ok "and describes that file"
# D 32, F 64: a block is 2 norms of 32 + qkv 96x32 + out 32x32 + MLP 64x32 + 32x64 = 8256
# parameters, the head a norm of 32 + out_w Vx32 (V: the learned vocabulary).
expect_grep "width 32, 2 attention heads of 16, MLP width 64, vocabulary [0-9]*, 3 blocks built" "$T/out" "inspect shows the model's shape"
V=$(sed -n 's/.*vocabulary \([0-9]*\), 3 blocks.*/\1/p' "$T/out")
expect_grep "block 3: 8256 parameters" "$T/out" "inspect counts a block's parameters"
expect_grep "head: $((32 + ${V:-0} * 32)) parameters" "$T/out" "inspect counts the head's parameters"
expect_grep "total: $((3 * 8256 + 32 + ${V:-0} * 32)) parameters" "$T/out" "and the total"
expect_grep "kind glyph, from $T/sub.h5" "$T/out" "inspect shows the substrate"
expect_exit 0 "metrics RUN_DIR/LATEST" -- "$STRATA" metrics "$R/LATEST"
"$STRATA" metrics "$newest" 2>/dev/null | cmp -s - "$T/out" && ok "the same table as metrics on the file" ||
    not_ok "the same table as metrics on the file"
expect_exit 0 "eval RUN_DIR" -- run 1 -- eval "$R" --max-chunks 4
expect_grep "using $newest" "$T/err" "eval names the checkpoint"
expect_exit 0 "generate RUN_DIR/LATEST" -- run 1 -- generate "$R/LATEST" --tokens 5
expect_exit 0 "merge RUN_DIR" -- run 1 -- merge --output "$T/ens.h5" "$R"
expect_exit 0 "inspect an ensemble" -- "$STRATA" inspect "$T/ens.h5"
expect_grep "ensemble: 1 member" "$T/out" "inspect lists the ensemble's members"
expect_grep "member 1: $newest" "$T/out" "by the file each came from"
expect_grep "substrate table: glyph, $V x 32" "$T/out" "with the shared substrate"
(cd "$R" && "$STRATA" metrics LATEST) >"$T/out" 2>"$T/err" && ok "a bare LATEST in the run directory" ||
    not_ok "a bare LATEST in the run directory"

# Growing a finished run again: it says so and prints the table.
expect_exit 0 "grow on a finished run" -- run 1 -- grow --config "$T/run.ini" --set run.name=r
expect_grep "is complete" "$T/err" "says the run is complete"
expect_grep "per-depth evaluation" "$T/out" "prints its per-depth table"
finish

#!/bin/sh
# branch.sh -- `strata grow --from`: a new run directory starts after a
# stage of another run, with other growth settings; the parent's blocks stay
# bit for bit; provenance (/parent: path, sha256, stage) in every checkpoint
# and in inspect; settings that must match are refused with exit 3, a
# directory with checkpoints and a mid-stage parent with exit 2; a branch
# resumes (and restarts from its PARENT file) with plain `strata grow`; an
# imported model (a one-member ensemble) is a parent too, several members
# are exit 2 and a damaged file exit 4.
. "$top_srcdir/tests/lib.sh"

H5DUMP=${H5DUMP:-h5dump}
tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini --set model.n_layers=2 --set grow.steps=6 --set ckpt.interval=3"
attr() { # attr FILE /parent NAME: the attribute's value as text
    "$H5DUMP" -a "$2/$3" "$1" 2>/dev/null | sed -n 's/^ *(0): *//p' | tr -d '"'
}

expect_exit 0 "a 2-stage parent run" -- run 2 -- grow $cfg --set run.name=a
p1="$T/ck/a/stage-001.h5"

# 1. A branch from stage 1 with another learning rate and step count.
expect_exit 0 "branch from stage 1 with other lr and steps" -- \
    run 2 -- grow $cfg --from "$p1" --set run.name=b --set train.lr=5e-3 --set grow.steps=4
expect_grep "branch: starting after stage 1 of $p1" "$T/err" "the start is announced"
[ -f "$T/ck/b/stage-002.h5" ] && [ ! -f "$T/ck/b/stage-001.h5" ] && ok "the branch writes stage 2 only" ||
    not_ok "branch files: $(ls "$T/ck/b" | tr '\n' ' ')"
sha "$p1" | grep block_001 >"$T/a.b1"
sha "$T/ck/b/stage-002.h5" | grep block_001 >"$T/b.b1"
[ -s "$T/a.b1" ] && cmp -s "$T/a.b1" "$T/b.b1" && ok "the parent's block 1 is bit for bit the branch's" ||
    not_ok "block 1 differs from the parent's"
sha "$T/ck/a/stage-002.h5" | grep block_002 >"$T/a.b2"
sha "$T/ck/b/stage-002.h5" | grep block_002 | cmp -s - "$T/a.b2" && not_ok "the branch's block 2 equals the parent's" ||
    ok "the branch trained its own block 2"
steps=$("$STRATA" metrics "$T/ck/b/stage-002.h5" | awk -F, 'NR > 1 { printf "%s ", $2 }')
[ "$steps" = "6 4 " ] && ok "/metrics/depth: the parent's stage 1 row, then the branch's 4 steps" ||
    not_ok "depth steps column: '$steps'"

# 2. Provenance in every checkpoint of the branch, and in inspect.
psha=$(sha256sum "$p1" | cut -d' ' -f1)
real=$(realpath "$p1")
bad=
for f in "$T"/ck/b/*.h5; do
    [ "$(attr "$f" /parent sha256)" = "$psha" ] && [ "$(attr "$f" /parent stage)" = 1 ] &&
        [ "$(attr "$f" /parent path)" = "$real" ] || bad="$bad $(basename "$f")"
done
[ -z "$bad" ] && ok "every branch checkpoint records the parent's path, sha256 and stage" ||
    not_ok "provenance missing or wrong in:$bad"
[ "$(attr "$T/ck/b/stage-002.h5" /parent sha256)" = "$psha" ] && ok "the recorded hash is sha256sum of the parent" ||
    not_ok "recorded '$(attr "$T/ck/b/stage-002.h5" /parent sha256)', sha256sum '$psha'"
expect_exit 0 "inspect a branch checkpoint" -- "$STRATA" inspect "$T/ck/b/stage-002.h5"
expect_grep "branched from" "$T/out" "inspect shows the parent"
expect_grep "sha256 $psha" "$T/out" "with its hash"
expect_grep "stage  1" "$T/out" "and its stage"
grep -q "^path = $real" "$T/ck/b/PARENT" && ok "the run directory's PARENT names the parent" || not_ok "no PARENT"
"$H5DUMP" -A "$T/ck/a/stage-002.h5" 2>/dev/null | grep -q '"parent"' && not_ok "an unbranched run has /parent" ||
    ok "an unbranched run has no /parent"

# 3. A branch with the parent's own settings is the parent continued, bitwise.
expect_exit 0 "branch from the run directory (its newest stage)" -- \
    run 2 -- grow $cfg --from "$T/ck/a" --set run.name=same --set model.n_layers=3
expect_grep "stage-002.h5, the newest stage checkpoint" "$T/err" "a run directory means its newest stage file"
expect_exit 0 "the parent grown one deeper, for comparison" -- \
    sh -c "cp -r '$T/ck/a' '$T/ck/deeper' && rm -f '$T/ck/deeper'/step-* && $MPIRUN -np 2 $STRATA grow $cfg --set run.name=deeper --set model.n_layers=3"
sha "$T/ck/deeper/stage-003.h5" >"$T/deeper.sha"
sha "$T/ck/same/stage-003.h5" | cmp -s - "$T/deeper.sha" &&
    ok "a branch with the same settings equals growing the parent itself" || not_ok "same-settings branch differs"

# 3b. Other growth settings: LoRA on the parent's blocks (merged into them at
#     the stage end); the trainable substrate, whose trained table the branch
#     takes over (with the same settings: the parent grown on, bitwise).
expect_exit 0 "a branch with LoRA on the parent's frozen blocks" -- \
    run 2 -- grow $cfg --from "$p1" --set run.name=lora --set grow.lora_from_depth=2 --set grow.lora_rank=2
sha "$T/ck/lora/stage-002.h5" | grep block_001 | cmp -s - "$T/a.b1" && not_ok "LoRA left the parent's block 1 alone" ||
    ok "LoRA adapted and merged into the parent's block 1"
tcfg="$cfg --set substrate.kind=trainable --set substrate.file=$T/sub-tr.h5"
expect_exit 0 "a parent on the trainable substrate" -- run 2 -- grow $tcfg --set run.name=tr
expect_exit 0 "its branch" -- run 2 -- grow $tcfg --from "$T/ck/tr/stage-001.h5" --set run.name=trb
sha "$T/ck/tr/stage-002.h5" >"$T/tr.sha"
sha "$T/ck/trb/stage-002.h5" | cmp -s - "$T/tr.sha" && ok "the trainable table comes along: the branch equals the parent" ||
    not_ok "trainable-substrate branch differs from its parent"

# 4. Refusals.
expect_exit 3 "a branch with another model shape is refused" -- \
    run 1 -- grow $cfg --from "$p1" --set run.name=shape --set model.d_ff=32
expect_grep "model.d_ff = 32 in $T/tiny.ini but 64 in the parent" "$T/err" "naming the setting, both values and the files"
expect_grep "$real" "$T/err" "and the parent file"
[ -z "$(ls "$T/ck/shape" 2>/dev/null | grep '\.h5$')" ] && ok "nothing is written on a refusal" || not_ok "files after a refusal"
expect_exit 3 "a branch with another context length is refused" -- \
    run 1 -- grow $cfg --from "$p1" --set run.name=ctx --set data.ctx=8 --set data.dataset="$T/data8.h5"
expect_grep "data.ctx = 8" "$T/err" "naming data.ctx"
expect_exit 2 "branching into a directory with checkpoints is refused" -- \
    run 1 -- grow $cfg --from "$p1" --set run.name=b
expect_grep "holds checkpoints already" "$T/err" "saying why"
expect_exit 2 "a mid-stage parent is refused" -- run 1 -- grow $cfg --from "$T/ck/a/step-00000009.h5" --set run.name=mid
expect_grep "mid-stage checkpoint (stage 2 at step 9).*stage-001.h5" "$T/err" "naming the stage file to use"

# 5. A branch stopped mid-stage resumes with plain `strata grow`, bitwise.
STRATA_TEST_STOP_AT_STEP=8 run 2 -- grow $cfg --from "$p1" --set run.name=stop --set train.lr=5e-3 \
    --set grow.steps=4 >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 75 ] && ok "a stopped branch exits 75" || not_ok "stopped branch: exit $rc"
expect_exit 0 "plain grow --config resumes the branch" -- \
    run 2 -- grow $cfg --set run.name=stop --set train.lr=5e-3 --set grow.steps=4
expect_grep "resuming from .*step-00000008.h5" "$T/err" "from its own checkpoint"
sha "$T/ck/b/stage-002.h5" >"$T/b.sha"
sha "$T/ck/stop/stage-002.h5" | cmp -s - "$T/b.sha" &&
    ok "the resumed branch ends bitwise equal to the uninterrupted one" || not_ok "resumed branch differs"
[ "$(attr "$T/ck/stop/stage-002.h5" /parent sha256)" = "$psha" ] && ok "and keeps its provenance" ||
    not_ok "provenance lost on resume"

# 6. A branch that has trained nothing yet (nothing left to train) restarts
#    from PARENT with plain `strata grow`; a branch of a branch lists its
#    ancestors.
expect_exit 0 "a branch after the last stage trains nothing" -- \
    run 1 -- grow $cfg --from "$T/ck/b/stage-002.h5" --set run.name=later
[ -f "$T/ck/later/PARENT" ] && [ -z "$(ls "$T/ck/later" | grep '\.h5$')" ] && ok "it records PARENT only" ||
    not_ok "later: $(ls "$T/ck/later" | tr '\n' ' ')"
expect_exit 0 "plain grow with a deeper model starts it from PARENT" -- \
    run 2 -- grow $cfg --set run.name=later --set model.n_layers=3 --set grow.steps=3
expect_grep "holds no checkpoint yet: starting it from there" "$T/err" "saying so"
expect_exit 0 "inspect the branch of a branch" -- "$STRATA" inspect "$T/ck/later/stage-003.h5"
expect_grep "ancestors" "$T/out" "lists the ancestors"
expect_grep "1  $psha  $real" "$T/out" "with the first parent's stage, hash and path"
# 7. An imported model grows on: `strata import` writes a one-member
#    ensemble; `grow --from` it trains stage 3 on top of its 2 blocks, which
#    stay bit for bit the exported checkpoint's; provenance names the file.
p2="$T/ck/a/stage-002.h5"
expect_exit 0 "export the 2-block parent" -- "$STRATA" export "$p2" --output "$T/exp"
expect_exit 0 "import it" -- "$STRATA" import "$T/exp" --output "$T/imp.h5"
expect_exit 0 "branch from the imported model with model.n_layers=3" -- \
    run 2 -- grow $cfg --from "$T/imp.h5" --set run.name=imp --set model.n_layers=3 --set grow.steps=4
expect_grep "branch: starting after stage 2 of $(realpath "$T/imp.h5")" "$T/err" "the imported model counts as stage 2"
[ -f "$T/ck/imp/stage-003.h5" ] && [ ! -f "$T/ck/imp/stage-002.h5" ] && ok "the branch trains and writes stage 3 only" ||
    not_ok "imp files: $(ls "$T/ck/imp" | tr '\n' ' ')"
sha "$p2" | grep 'block_00[12]' >"$T/a.b12"
sha "$T/ck/imp/stage-003.h5" | grep 'block_00[12]' >"$T/imp.b12"
[ "$(wc -l <"$T/a.b12")" -gt 2 ] && cmp -s "$T/a.b12" "$T/imp.b12" &&
    ok "blocks 1-2 of the branch are bit for bit the exported checkpoint's" || not_ok "blocks 1-2 differ from the original's"
sha "$T/ck/imp/stage-003.h5" | grep 'block_003' | grep -q . && ok "stage 3 added block 3" || not_ok "no block 3"
steps=$("$STRATA" metrics "$T/ck/imp/stage-003.h5" | awk -F, 'NR > 1 { printf "%s:%s ", $1, $2 }')
[ "$steps" = "3:4 " ] && ok "/metrics/depth: stage 3 trained 4 steps (an import carries no metric rows)" ||
    not_ok "depth rows: '$steps'"
isha=$(sha256sum "$T/imp.h5" | cut -d' ' -f1)
f="$T/ck/imp/stage-003.h5"
[ "$(attr "$f" /parent path)" = "$(realpath "$T/imp.h5")" ] && [ "$(attr "$f" /parent sha256)" = "$isha" ] &&
    [ "$(attr "$f" /parent stage)" = 2 ] && ok "/parent names the imported file, its sha256 and stage 2" ||
    not_ok "provenance: $(attr "$f" /parent path) $(attr "$f" /parent sha256) $(attr "$f" /parent stage)"
expect_exit 0 "merge of one checkpoint is a parent too" -- "$STRATA" merge --output "$T/one.h5" "$p1"
expect_exit 0 "branch from it" -- run 1 -- grow $cfg --from "$T/one.h5" --set run.name=one --set grow.steps=2
sha "$T/ck/one/stage-002.h5" | grep block_001 | cmp -s - "$T/a.b1" && ok "its block 1 is the checkpoint's" ||
    not_ok "block 1 of the merged parent differs"
# refusals: more than one member (exit 2), a damaged file (exit 4, as a
# damaged checkpoint), settings (exit 3)
expect_exit 0 "an ensemble of two" -- "$STRATA" merge --output "$T/two.h5" "$p1" "$T/imp.h5"
expect_exit 2 "a two-member ensemble as parent is refused" -- \
    run 1 -- grow $cfg --from "$T/two.h5" --set run.name=two --set model.n_layers=3
expect_grep "ensemble of 2 members.*--member" "$T/err" "saying how to pick one member"
head -c 20000 "$T/imp.h5" >"$T/cut.h5"
expect_exit 4 "a truncated imported file as parent is refused" -- \
    run 1 -- grow $cfg --from "$T/cut.h5" --set run.name=cut --set model.n_layers=3
expect_grep "cut.h5" "$T/err" "naming the file"
cp "$T/imp.h5" "$T/flip.h5"
printf '\377\377\377\377\377\377\377\377' |
    dd of="$T/flip.h5" bs=1 seek=$(($(wc -c <"$T/imp.h5") / 2)) conv=notrunc 2>/dev/null
expect_exit 4 "an imported file with damaged tensor bytes is refused" -- \
    run 1 -- grow $cfg --from "$T/flip.h5" --set run.name=flip --set model.n_layers=3
expect_grep "parent .*flip.h5 is corrupt" "$T/err" "saying the parent is corrupt"
expect_exit 3 "an imported parent with another model shape is refused" -- \
    run 1 -- grow $cfg --from "$T/imp.h5" --set run.name=impshape --set model.n_layers=3 --set model.d_ff=32
expect_grep "model.d_ff = 32" "$T/err" "naming the setting"
expect_exit 2 "an imported parent deeper than model.n_layers is refused" -- \
    run 1 -- grow $cfg --from "$T/imp.h5" --set run.name=shallow --set model.n_layers=1
expect_grep "it has 2 blocks but model.n_layers = 1" "$T/err" "saying which setting to raise"
# the trainable substrate: the imported member's own table comes along
expect_exit 0 "export + import the trainable-substrate parent" -- sh -c \
    "$STRATA export '$T/ck/tr/stage-001.h5' --output '$T/extr' && $STRATA import '$T/extr' --output '$T/imptr.h5'"
expect_exit 0 "branch from the imported trainable-substrate model" -- \
    run 2 -- grow $tcfg --from "$T/imptr.h5" --set run.name=trimp --set grow.steps=3
sha "$T/ck/tr/stage-001.h5" | grep block_001 >"$T/tr.b1"
[ -s "$T/tr.b1" ] && sha "$T/ck/trimp/stage-002.h5" | grep block_001 | cmp -s - "$T/tr.b1" &&
    ok "its block 1 is the original's" || not_ok "trainable import: block 1 differs"
for d in two cut flip impshape shallow; do
    [ -z "$(ls "$T/ck/$d" 2>/dev/null | grep '\.h5$')" ] || bad="$bad $d"
done
[ -z "$bad" ] && ok "refused branches write no checkpoint" || not_ok "checkpoints after a refusal:$bad"
finish

#!/bin/sh
# grow.sh -- `strata grow` end to end on a tiny model: stages, checkpoints,
# per-depth table, replicas in step, cache on/off bitwise, resume bitwise
# after a stop request, a real SIGUSR1 and a crash inside a checkpoint write,
# resume on another rank count, corrupt-checkpoint fallback, and bad input.
. "$top_srcdir/tests/lib.sh"

MPIRUN=${MPIRUN:-mpirun}
tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini"

# 1. A fresh run on 2 ranks builds dataset and substrate, grows 3 blocks.
expect_exit 0 "grow on 2 ranks (builds dataset and substrate first)" -- run 2 -- grow $cfg --set run.name=a
expect_grep "val_bits_per_char" "$T/out" "prints the per-depth table"
for k in 001 002 003; do
    [ -f "$T/ck/a/stage-$k.h5" ] || missing=$k
done
[ -z "${missing:-}" ] && ok "stage-001..003.h5 written" || not_ok "stage-$missing.h5 missing"
[ "$(cat "$T/ck/a/LATEST")" = "stage-003.h5" ] && ok "LATEST names the last stage" || not_ok "LATEST is '$(cat "$T/ck/a/LATEST")'"
n_step=$(ls "$T/ck/a" | grep -c '^step-')
[ "$n_step" -le 2 ] && ok "periodic checkpoints pruned to ckpt.keep" || not_ok "$n_step step checkpoints kept"
[ -f "$T/data.h5" ] && [ -f "$T/sub.h5" ] && ok "dataset and substrate built on demand" || not_ok "inputs not built"
sha "$T/ck/a/stage-003.h5" >"$T/a.sha"
[ "$(wc -l <"$T/a.sha")" -ge 20 ] && ok "checkpoint holds every weight tensor" || not_ok "few tensors in checkpoint"
expect_exit 0 "inspect a dataset" -- "$STRATA" inspect "$T/data.h5"
expect_grep "split: [0-9]* train, [0-9]* val" "$T/out" "inspect summarises the dataset"
expect_exit 0 "inspect a substrate" -- "$STRATA" inspect "$T/sub.h5"
expect_grep "duplicate rows: 0" "$T/out" "inspect summarises the substrate"
echo "not hdf5" >"$T/plain.txt"
expect_exit 3 "inspect refuses a file that is not HDF5" -- "$STRATA" inspect "$T/plain.txt"
expect_grep "plain.txt: not an HDF5 file" "$T/err" "the refusal names the file"
expect_exit 0 "inspect a checkpoint" -- "$STRATA" inspect "$T/ck/a/stage-003.h5"
expect_grep "val_loss" "$T/out" "inspect shows the depth table"
expect_grep "kind glyph, from .*sub.h5, checksum [0-9]" "$T/out" "inspect names the checkpoint's substrate"

# Frozen blocks never move: block 1 is the same in every later stage.
sha "$T/ck/a/stage-001.h5" | grep block_001 >"$T/b1.s1"
sha "$T/ck/a/stage-003.h5" | grep block_001 >"$T/b1.s3"
[ -s "$T/b1.s1" ] && cmp -s "$T/b1.s1" "$T/b1.s3" && ok "block 1 stays frozen through stage 3" || not_ok "block 1 changed after its stage"
sha "$T/ck/a/stage-001.h5" | grep head/out_w >"$T/h.s1"
sha "$T/ck/a/stage-003.h5" | grep head/out_w | cmp -s - "$T/h.s1" && not_ok "the head did not train in later stages" || ok "the head keeps training"

# LoRA from stage 2: adapters on frozen blocks, merged into them at stage end.
expect_exit 0 "grow with LoRA on frozen blocks" -- run 2 -- grow $cfg --set run.name=lora --set grow.lora_from_depth=2 --set grow.lora_rank=2
sha "$T/ck/lora/stage-002.h5" | grep block_001 >"$T/b1.lora"
cmp -s "$T/b1.s1" "$T/b1.lora" && not_ok "LoRA did not change block 1" || ok "LoRA merged into the frozen block 1"
sha "$T/ck/lora/stage-002.h5" | grep -q lora && not_ok "stage checkpoint still holds adapters" || ok "stage checkpoint holds merged weights only"

# The monolithic baseline: one stage, all blocks, the same token budget.
expect_exit 0 "monolithic schedule" -- run 2 -- grow $cfg --set run.name=mono --set grow.schedule=monolithic
"$STRATA" metrics "$T/ck/mono/stage-001.h5" >"$T/mono.csv"
[ "$(sed -n 2p "$T/mono.csv" | cut -d, -f1,2)" = "3,36" ] && [ "$(wc -l <"$T/mono.csv")" -eq 2 ] &&
    ok "monolithic: one depth-3 row after 3 x 12 steps" || { not_ok "monolithic table"; sed 's/^/# /' "$T/mono.csv"; }

# 2. Weights stay identical on 3 ranks (checked with a checksum all-reduce
#    at every evaluation; a mismatch fails the run).
expect_exit 0 "grow on 3 ranks keeps replicas identical" -- run 3 -- grow $cfg --set run.name=r3 --set model.n_layers=2

# 3. The activation cache does not change a single bit.
expect_exit 0 "cache off" -- run 2 -- grow $cfg --set run.name=nocache --set grow.cache=off
mkdir "$T/scratch"
expect_exit 0 "cache on disk" -- run 2 -- grow $cfg --set run.name=disk --set grow.cache=disk --set grow.cache_dir="$T/scratch"
col "$T/ck/a/stage-003.h5" train_loss >"$T/loss.mem"
col "$T/ck/nocache/stage-003.h5" train_loss >"$T/loss.off"
col "$T/ck/disk/stage-003.h5" train_loss >"$T/loss.disk"
cmp -s "$T/loss.mem" "$T/loss.off" && ok "loss trajectory bitwise equal with cache on and off" || not_ok "cache on/off differ"
cmp -s "$T/loss.mem" "$T/loss.disk" && ok "loss trajectory bitwise equal with the disk cache" || not_ok "disk cache differs"
sha "$T/ck/nocache/stage-003.h5" | cmp -s - "$T/a.sha" && ok "final weights equal with cache on and off" || not_ok "weights differ cache on/off"

# 4. A stop request mid-stage: exit 75 after a clean checkpoint, then resume.
STRATA_TEST_STOP_AT_STEP=17 run 2 -- grow $cfg --set run.name=stop >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 75 ] && ok "stop request exits 75" || not_ok "stop request exit $rc"
[ -f "$T/ck/stop/step-00000017.h5" ] && ok "checkpoint at the stop step" || not_ok "no step-00000017.h5"
"$H5DUMP" -a /state/stage_wall_s "$T/ck/stop/step-00000017.h5" 2>/dev/null | grep -q "(0): [0-9]" &&
    ok "a mid-stage checkpoint keeps the stage's wall time so far" || not_ok "no stage_wall_s in the stop checkpoint"
cp -r "$T/ck/stop" "$T/ck/corrupt"
cp -r "$T/ck/stop" "$T/ck/shape"
cp -r "$T/ck/stop" "$T/ck/none"
cp -r "$T/ck/stop" "$T/ck/full"
cp -r "$T/ck/stop" "$T/ck/v1"
cp -r "$T/ck/stop" "$T/ck/v3"
expect_exit 0 "resume after the stop" -- run 2 -- grow $cfg --set run.name=stop
expect_grep "resuming" "$T/err" "resume is announced"
sha "$T/ck/stop/stage-003.h5" | cmp -s - "$T/a.sha" && ok "resumed run ends bitwise identical" || not_ok "resumed weights differ"
# The per-depth table covers every session of a stage: stage 2 was cut at
# step 17 (its 5th step) and resumed, and its train_loss (the mean over the
# stage's 12 steps) is still the uninterrupted run's, bit for bit.
dcol "$T/ck/stop/stage-003.h5" train_loss >"$T/tl.stop"
dcol "$T/ck/a/stage-003.h5" train_loss >"$T/tl.a"
[ -s "$T/tl.a" ] && cmp -s "$T/tl.stop" "$T/tl.a" && ok "per-stage train_loss survives a resume" ||
    not_ok "train_loss after resume: $(tr '\n' ' ' <"$T/tl.stop") vs $(tr '\n' ' ' <"$T/tl.a")"

# 5. A real SIGUSR1 (forwarded by mpirun to the ranks).
# mpirun itself gets the signal and forwards it to the ranks.
"$MPIRUN" -np 2 "$STRATA" grow $cfg --set run.name=sig --set grow.steps=40 --set eval.interval=20 >"$T/sig.out" 2>"$T/sig.err" &
pid=$!
i=0
while [ ! -f "$T/ck/sig/stage-001.h5" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -USR1 $pid 2>/dev/null
wait $pid
rc=$?
[ $rc -eq 75 ] && ok "SIGUSR1 exits 75" || { not_ok "SIGUSR1 exit $rc"; sed 's/^/# /' "$T/sig.err" | tail -5; }
expect_exit 0 "resume after SIGUSR1" -- run 2 -- grow $cfg --set run.name=sig --set grow.steps=40 --set eval.interval=20
expect_exit 0 "uninterrupted reference for SIGUSR1" -- run 2 -- grow $cfg --set run.name=sigref --set grow.steps=40 --set eval.interval=20
sha "$T/ck/sig/stage-003.h5" >"$T/sig.sha"
sha "$T/ck/sigref/stage-003.h5" | cmp -s - "$T/sig.sha" && ok "signal-stopped run ends bitwise identical" || not_ok "signal run differs"

# 6. A crash in the middle of a checkpoint write (injected): the temp file
#    stays behind, the previous checkpoint is used on resume.
STRATA_FAULT=ckpt_commit@3 run 2 -- grow $cfg --set run.name=crash >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && ok "injected crash stops the run (exit $rc)" || not_ok "injected crash did not stop the run"
expect_exit 0 "resume after the crash" -- run 2 -- grow $cfg --set run.name=crash
sha "$T/ck/crash/stage-003.h5" | cmp -s - "$T/a.sha" && ok "crash-resumed run ends bitwise identical" || not_ok "crash-resumed weights differ"

# 7. Resume on another rank count (2 -> 3): same loss curve within 1e-4.
STRATA_TEST_STOP_AT_STEP=17 run 2 -- grow $cfg --set run.name=two2three >/dev/null 2>&1
expect_exit 0 "resume a 2-rank run on 3 ranks" -- run 3 -- grow $cfg --set run.name=two2three
col "$T/ck/two2three/stage-003.h5" train_loss >"$T/loss.23"
paste "$T/loss.mem" "$T/loss.23" | awk '
    NF == 2 && $1 + 0 == $1 { d = $1 - $2; if (d < 0) d = -d; r = d / ($1 < 0 ? -$1 : $1); if (r > m) m = r; n++ }
    END { printf "# max relative loss difference %.3g over %d steps\n", m, n; exit !(n > 30 && m < 1e-4) }' &&
    ok "loss curve within 1e-4 relative after 2 -> 3 ranks" || not_ok "loss curve differs after 2 -> 3 ranks"

# 8. A corrupt newest checkpoint: warn and use the previous complete one.
newest=$(cat "$T/ck/corrupt/LATEST")
head -c 4000 "$T/ck/corrupt/$newest" >"$T/trunc" && mv "$T/trunc" "$T/ck/corrupt/$newest"
expect_exit 0 "a truncated newest checkpoint falls back" -- run 2 -- grow $cfg --set run.name=corrupt
expect_grep "$newest" "$T/err" "the fallback warning names the bad file"

# 8b. A newest checkpoint that passes its checksums but cannot be loaded (a
#     tensor of the wrong shape, then a missing tensor in every file): warn
#     and fall back to the previous one; exit 4 when none is usable.
if [ -n "${PYTHON3:-}" ] && "$PYTHON3" -c 'import h5py' 2>/dev/null; then
    reshape='import h5py, sys
for f in sys.argv[2:]:
    with h5py.File(f, "r+") as h:
        if sys.argv[1] == "shape":
            del h["model/head/out_w"]; h["model/head/out_w"] = [[0.0] * 3] * 5
        else:
            del h["model/head/norm_g"]'
    newest=$(cat "$T/ck/shape/LATEST")
    "$PYTHON3" -c "$reshape" shape "$T/ck/shape/$newest"
    expect_exit 0 "a newest checkpoint with a wrong-shaped tensor falls back" -- run 2 -- grow $cfg --set run.name=shape
    expect_grep "$newest' cannot be resumed from" "$T/err" "the warning names the file"
    expect_grep "model/head/out_w" "$T/err" "and the tensor"
    sha "$T/ck/shape/stage-003.h5" | cmp -s - "$T/a.sha" && ok "the fallen-back run ends bitwise identical" ||
        not_ok "the fallen-back run differs"
    "$PYTHON3" -c "$reshape" missing "$T"/ck/none/*.h5
    expect_exit 4 "no loadable checkpoint at all is exit 4" -- run 2 -- grow $cfg --set run.name=none
    expect_grep "no usable checkpoint" "$T/err" "and says so"
else
    echo "ok - # SKIP no h5py"
fi

# 8c. Settings that cannot apply because the dataset exists: the run uses
#     the dataset's, says so, and /config records what was used.
expect_exit 0 "a run on an existing dataset with other tokenizer settings" -- \
    run 1 -- grow $cfg --set run.name=adopt --set tokenizer.vocab_size=500 --set data.val_fraction=0.2 --set grow.steps=2 \
    --set substrate.cell=24
expect_grep "tokenizer.vocab_size = 500 (dataset: 400)" "$T/err" "the warning names the setting and both values"
expect_grep "data.val_fraction" "$T/err" "and every other one"
"$H5DUMP" -d /config "$T/ck/adopt/stage-001.h5" >"$T/cfg.txt" 2>&1
expect_grep "vocab_size = 400" "$T/cfg.txt" "/config records the value that was used"
expect_grep "substrate.cell = 24 cannot apply: the run uses the file's 16" "$T/err" "an existing substrate's cell wins too"
expect_grep "cell = 16" "$T/cfg.txt" "and is recorded"

# 8d. Every substrate kind grows all three stages (the trainable table trains
#     through the frozen blocks); a substrate file of another kind than
#     substrate.kind is refused, naming both.
for kind in random binary trainable; do
    expect_exit 0 "grow 3 stages on the $kind substrate" -- run 2 -- grow $cfg --set run.name="k$kind" \
        --set substrate.kind=$kind --set substrate.file="$T/sub-$kind.h5" --set grow.steps=4
    [ "$(cat "$T/ck/k$kind/LATEST" 2>/dev/null)" = "stage-003.h5" ] && ok "the $kind run reaches stage 3" ||
        not_ok "the $kind run stopped at '$(cat "$T/ck/k$kind/LATEST" 2>/dev/null)'"
done
expect_exit 3 "a random substrate file under substrate.kind = glyph is refused" -- \
    run 1 -- grow $cfg --set run.name=mislabel --set substrate.file="$T/sub-random.h5"
expect_grep "holds a random substrate but substrate.kind = glyph" "$T/err" "naming both kinds"

# 8e. Growth continues: a finished run grows deeper when model.n_layers is
#     raised, leaving its earlier stages alone; grow.until_stage ends a run
#     cleanly after a stage and a later run continues it bitwise; a run never
#     gets shallower, and a monolithic run keeps its depth.
cp -r "$T/ck/a" "$T/ck/deep"
sha "$T/ck/deep/stage-002.h5" >"$T/deep2.sha"
expect_exit 0 "a finished 3-block run grows a 4th block" -- run 2 -- grow $cfg --set run.name=deep --set model.n_layers=4
[ "$(cat "$T/ck/deep/LATEST")" = "stage-004.h5" ] && ok "stage-004.h5 is the newest checkpoint" ||
    not_ok "LATEST is '$(cat "$T/ck/deep/LATEST")'"
sha "$T/ck/deep/stage-002.h5" | cmp -s - "$T/deep2.sha" && ok "the earlier stage files are untouched" ||
    not_ok "stage-002.h5 changed"
[ "$("$STRATA" metrics "$T/ck/deep/stage-004.h5" | awk -F, 'NR > 1 { n++ } END { print n }')" = 4 ] &&
    ok "/metrics/depth has four rows" || not_ok "depth rows: $("$STRATA" metrics "$T/ck/deep/stage-004.h5" | wc -l)"
expect_exit 2 "a grown run cannot get shallower" -- run 1 -- grow $cfg --set run.name=deep --set model.n_layers=2
expect_grep "has grown 4 blocks but model.n_layers = 2" "$T/err" "the refusal says why"
expect_exit 0 "grow.until_stage = 1 ends the run after stage 1" -- run 2 -- grow $cfg --set run.name=until --set grow.until_stage=1
[ "$(cat "$T/ck/until/LATEST")" = "stage-001.h5" ] && ok "LATEST is stage-001.h5" || not_ok "LATEST is '$(cat "$T/ck/until/LATEST")'"
expect_grep "stopped after stage 1 of 3" "$T/err" "it says how to continue"
expect_exit 0 "a later run continues to the last stage" -- run 2 -- grow $cfg --set run.name=until
sha "$T/ck/until/stage-003.h5" | cmp -s - "$T/a.sha" && ok "and ends bitwise identical to an uninterrupted run" ||
    not_ok "the continued run differs"
expect_exit 0 "a monolithic run" -- run 1 -- grow $cfg --set run.name=mono2 --set grow.schedule=monolithic --set grow.steps=2
expect_exit 2 "a monolithic run keeps its depth" -- run 1 -- grow $cfg --set run.name=mono2 --set grow.schedule=monolithic --set grow.steps=2 --set model.n_layers=4
expect_grep "monolithic run may not change" "$T/err" "naming the reason"

# 8f. format_version (docs/FORMAT.md "Root attributes"): checkpoints are 2
#     since /state order_slots, datasets stay 1.  A checkpoint from before
#     (format_version 1, no order_slots) still resumes, in the one-shard
#     order (order_slots 1, kept in the files it writes); a checkpoint newer
#     than this strata knows is refused (exit 4), naming the file.
if [ -n "${PYTHON3:-}" ] && "$PYTHON3" -c 'import h5py' 2>/dev/null; then
    attrs='import h5py, sys
f = h5py.File(sys.argv[1], "r")
print("format_version", int(f.attrs["format_version"]))
if "state" in f:
    print("order_slots", int(f["state"].attrs.get("order_slots", -1)))'
    "$PYTHON3" -c "$attrs" "$T/ck/a/stage-003.h5" >"$T/v.a"
    expect_grep "^format_version 2$" "$T/v.a" "a new checkpoint has format_version 2"
    expect_grep "^order_slots 6$" "$T/v.a" "and orders by train.batch = 6 slots"
    "$PYTHON3" -c "$attrs" "$T/data.h5" >"$T/v.data"
    expect_grep "^format_version 1$" "$T/v.data" "a dataset still has format_version 1"
    setver='import h5py, numpy, sys
for f in sys.argv[2:]:
    with h5py.File(f, "r+") as h:
        h.attrs["format_version"] = numpy.int64(sys.argv[1])
        if sys.argv[1] == "1":
            del h["state"].attrs["order_slots"]'
    "$PYTHON3" -c "$setver" 1 "$T"/ck/v1/*.h5
    expect_exit 0 "a format_version 1 checkpoint without order_slots resumes" -- run 2 -- grow $cfg --set run.name=v1
    expect_grep "resuming" "$T/err" "from its checkpoint"
    "$PYTHON3" -c "$attrs" "$T/ck/v1/stage-003.h5" >"$T/v.v1"
    expect_grep "^order_slots 1$" "$T/v.v1" "it keeps the old order (order_slots 1)"
    expect_grep "^format_version 2$" "$T/v.v1" "in files of format_version 2"
    "$PYTHON3" -c "$setver" 3 "$T"/ck/v3/*.h5
    newest=$(cat "$T/ck/v3/LATEST")
    expect_exit 4 "a format_version 3 checkpoint is refused with exit 4" -- run 2 -- grow $cfg --set run.name=v3
    expect_grep "$newest has format_version 3, newer than this strata supports for checkpoint files (2)" "$T/err" \
        "the refusal names the file, its version and the newest known"
else
    echo "ok - # SKIP no h5py"
fi

# 9. Bad input.
expect_exit 2 "changed fixed setting on resume is refused" -- run 2 -- grow $cfg --set run.name=a --set model.d_ff=128
expect_grep "model.d_ff" "$T/err" "the refusal lists the differing key"
expect_exit 0 "a setting that may change on resume is accepted" -- run 1 -- grow $cfg --set run.name=a --set eval.batches=1
run 1 -- substrate $cfg --bmp --output "$T/bmp.h5" --set substrate.kind=random >/dev/null 2>&1
expect_exit 3 "dataset and substrate that do not match" -- run 1 -- grow $cfg --set run.name=mismatch --set substrate.file="$T/bmp.h5"
expect_grep "do not belong together" "$T/err" "mismatch is explained"
mkdir -p "$T/ro" && chmod 555 "$T/ro"
if [ "$(id -u)" -eq 0 ] && touch "$T/ro/x" 2>/dev/null; then
    # root ignores permissions: use a path below a regular file instead
    rm -f "$T/ro/x"
    touch "$T/file"
    expect_exit 4 "unwritable checkpoint directory" -- run 1 -- grow $cfg --set run.dir="$T/file/sub"
else
    expect_exit 4 "unwritable checkpoint directory" -- run 1 -- grow $cfg --set run.dir="$T/ro"
fi
before=$(sha "$T/ck/full/$(cat "$T/ck/full/LATEST")")
export STRATA_FAULT=ckpt_enospc
expect_exit 4 "disk full during a checkpoint" -- run 1 -- grow $cfg --set run.name=full
unset STRATA_FAULT
expect_grep "No space left" "$T/err" "disk-full error is clear"
after=$(sha "$T/ck/full/$(cat "$T/ck/full/LATEST")")
[ "$before" = "$after" ] && ok "the previous checkpoint stays intact" || not_ok "previous checkpoint changed"
ls "$T/ck/full" | grep -q '\.tmp' && not_ok "temp file left after disk full" || ok "no temp file left after disk full"

# 10. The per-depth table opens in h5py with its units.
if [ -n "${PYTHON3:-}" ] && "$PYTHON3" -c 'import h5py' 2>/dev/null; then
    "$PYTHON3" - "$T/ck/a/stage-003.h5" >"$T/py" 2>&1 <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
d = f["metrics/depth"]
bpc = d["val_bits_per_char"][:]
assert list(d["depth"][:]) == [1, 2, 3], d["depth"][:]
assert d["val_bits_per_char"].attrs["units"] in ("bits/char", b"bits/char"), d["val_bits_per_char"].attrs["units"]
assert bpc[-1] < bpc[0], bpc  # deeper is better on held-out text
print("depth bpc", list(bpc))
PY
    [ $? -eq 0 ] && ok "h5py reads /metrics/depth with units" || { not_ok "h5py read failed"; sed 's/^/# /' "$T/py"; }
else
    echo "ok $((tap_n + 1)) # SKIP python3-h5py not installed"; tap_n=$((tap_n + 1))
fi
finish

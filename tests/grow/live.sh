#!/bin/sh
# live.sh -- metrics.jsonl: one JSON object per line as the run trains,
# every step exactly once across a crash and resume and across a rollback,
# measured non-finite values told apart from values not measured.
. "$top_srcdir/tests/lib.sh"

tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini"
py=${PYTHON3:-/usr/bin/python3}
if ! "$py" -c 'import json' 2>/dev/null; then
    echo "1..0 # SKIP no python3"
    exit 0
fi
# check.py FILE STEPS: every line parses, step records 1..STEPS each once,
# the fields a user plots are there; prints the record counts by type.
cat >"$T/check.py" <<'PY'
import collections, json, sys
path, steps = sys.argv[1], int(sys.argv[2])
recs = [json.loads(l) for l in open(path)]
seen = collections.Counter(r["step"] for r in recs if r["type"] == "step")
assert sorted(seen) == list(range(1, steps + 1)), ("steps", sorted(seen)[:5], len(seen))
assert max(seen.values()) == 1, ("a step twice", [s for s, n in seen.items() if n > 1])
for r in recs:
    if r["type"] == "step":
        for k in ("stage", "tokens", "train_loss", "lr", "grad_norm", "tokens_per_s", "wall_s", "mem_mb"):
            assert k in r, (k, r)
stages = [r for r in recs if r["type"] == "stage"]
assert [r["depth"] for r in stages] == [1, 2, 3], stages
assert all("val_bits_per_char" in r for r in stages)
print(" ".join("%s=%d" % kv for kv in sorted(collections.Counter(r["type"] for r in recs).items())))
PY

# 1. A run writes it line by line.
expect_exit 0 "a run on 1 rank" -- run 1 -- grow $cfg --set run.name=a
[ -f "$T/ck/a/metrics.jsonl" ] && ok "metrics.jsonl is in the run directory" || not_ok "no metrics.jsonl"
"$py" "$T/check.py" "$T/ck/a/metrics.jsonl" 36 >"$T/counts" 2>"$T/py.err" && ok "every line is JSON, steps 1..36 once each" ||
    { not_ok "metrics.jsonl: $(tail -1 "$T/py.err")"; }
expect_grep "eval=9 stage=3 step=36" "$T/counts" "one record per step, evaluation and stage"

# 2. A crash inside a checkpoint write, after the lines of later steps were
#    written: the resumed run drops them and writes each step once.
STRATA_FAULT=ckpt_commit@3 run 2 -- grow $cfg --set run.name=crash >/dev/null 2>&1
n_before=$(grep -c '"type": "step"' "$T/ck/crash/metrics.jsonl")
expect_exit 0 "resume after the crash" -- run 2 -- grow $cfg --set run.name=crash
"$py" "$T/check.py" "$T/ck/crash/metrics.jsonl" 36 >"$T/counts" 2>"$T/py.err" &&
    ok "after crash + resume: each step once ($n_before step lines before the resume)" ||
    not_ok "after crash + resume: $(tail -1 "$T/py.err")"

# 3. A rollback: the steps it undid are not there twice; the event is.
STRATA_TEST_DIVERGE_AT_STEP=7 expect_exit 0 "a run with one diverged step" -- run 1 -- grow $cfg --set run.name=rb
"$py" "$T/check.py" "$T/ck/rb/metrics.jsonl" 36 >"$T/counts" 2>"$T/py.err" && ok "after a rollback: each step once" ||
    not_ok "after a rollback: $(tail -1 "$T/py.err")"
expect_grep "rollback=1" "$T/counts" "the rollback is a record"
expect_grep '"type": "rollback".*"train_loss": "NaN"' "$T/ck/rb/metrics.jsonl" \
    "a measured NaN is the string \"NaN\", not null (null and absent mean not measured)"

finish

#!/bin/sh
# report.sh -- `strata report`: a grown and a monolithic run overlaid; every
# panel a valid PNG that index.html shows, with one series per run (the
# program's manifest.json); probe/task columns plotted generically; a
# per-position CSV; no overwrite without --force; hostile inputs refused with
# one line and the documented exit code, leaving no output behind.
. "$top_srcdir/tests/lib.sh"

py=${PYTHON3:-/usr/bin/python3}
if ! "$py" -c 'import h5py, matplotlib' 2>/dev/null; then
    # a TAP skip (tap-driver.sh reports exit 77 as an error): tools/check.sh installs both
    echo "1..0 # SKIP python3-h5py or python3-matplotlib not installed"
    exit 0
fi
tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini"
expect_exit 0 "grow a tiny run" -- run 1 -- grow $cfg --set run.name=grown
expect_exit 0 "grow its monolithic baseline" -- run 1 -- grow $cfg --set run.name=mono --set grow.schedule=monolithic

# check.py DIR PANEL=SERIES...: manifest lists exactly these panels with these
# series counts; every file is a PNG (magic, IHDR first, sane size) that
# index.html shows.
cat >"$T/check.py" <<'PY'
import json, os, struct, sys
d = sys.argv[1]
want = dict(a.split("=") for a in sys.argv[2:])
m = json.load(open(os.path.join(d, "manifest.json")))
got = {p["file"]: p["series"] for p in m["panels"]}
assert set(got) == set(want), ("panels", sorted(got), sorted(want))
for f, n in want.items():
    assert got[f] == int(n), (f, "series", got[f], "want", n)
page = open(os.path.join(d, "index.html")).read()
for f in got:
    b = open(os.path.join(d, f), "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", (f, "PNG magic")
    ln, tag, w, h = struct.unpack(">I4sII", b[8:24])
    assert tag == b"IHDR" and ln == 13, (f, "IHDR")
    assert 200 <= w <= 4000 and 200 <= h <= 4000, (f, "size", w, h)
    assert 'src="%s"' % f in page, (f, "not in index.html")
print(len(got), "panels ok")
PY
# (the induction probe's columns are in every run: eval.induction_seqs > 0 by default)
ind1="depth_induction_gain.png=1 depth_induction_loss_first.png=1 depth_induction_loss_second.png=1"
std="loss_vs_tokens.png=2 depth_val_bits_per_char.png=2 depth_val_top1.png=2 depth_wall_s.png=2 depth_mfu.png=2 $(echo "$ind1" | sed 's/=1/=2/g')"
expect_exit 0 "report on a grown and a monolithic run" -- "$STRATA" report "$T/ck/grown" "$T/ck/mono" --output "$T/rep"
"$py" "$T/check.py" "$T/rep" $std >"$T/chk" 2>&1 && ok "eight panels, valid PNGs in index.html, two series each" ||
    { not_ok "report panels"; sed 's/^/# /' "$T/chk"; }
expect_exit 2 "an existing output is refused without --force" -- "$STRATA" report "$T/ck/grown" --output "$T/rep"
expect_grep "rep: exists; pass --force to replace it" "$T/err" "the refusal names the directory"
"$py" "$T/check.py" "$T/rep" $std >/dev/null 2>&1 && ok "the refused run left the old report intact" || not_ok "old report damaged"

# A probe and a task column (as s3 helpers add them), a stderr column drawn
# as error bars, and a per-position CSV; the stage checkpoint as input.
cp "$T/ck/grown/stage-003.h5" "$T/probe.h5"
"$py" - "$T/probe.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    g = f["metrics/depth"]
    for name, v in (("induction", [0.1, 0.5, 0.9]), ("task_cloze_acc", [0.3, 0.35, 0.4]), ("task_cloze_acc_se", [0.02] * 3)):
        g.create_dataset(name, data=np.array(v))
PY
printf 'position,depth,loss\n0,1,5.0\n1,1,4.0\n2,1,3.5\n0,2,4.9\n1,2,3.8\n2,2,3.2\n' >"$T/pos.csv"
expect_exit 0 "report with probe columns and a per-position CSV" -- "$STRATA" report "$T/probe.h5" "$T/ck/mono" --per-position "$T/pos.csv" --output "$T/rep2"
"$py" "$T/check.py" "$T/rep2" $std depth_induction.png=1 depth_task_cloze_acc.png=1 per_position.png=2 >"$T/chk" 2>&1 &&
    ok "probe/task columns by depth (one series: one input has them) and per-position loss by depth" ||
    { not_ok "generic columns"; sed 's/^/# /' "$T/chk"; }
expect_exit 0 "--force replaces a report" -- "$STRATA" report "$T/ck/mono" --output "$T/rep2" --force
"$py" "$T/check.py" "$T/rep2" loss_vs_tokens.png=1 depth_val_bits_per_char.png=1 depth_val_top1.png=1 depth_wall_s.png=1 depth_mfu.png=1 $ind1 >"$T/chk" 2>&1 &&
    ok "the replaced report has one series per panel" || { not_ok "forced report"; sed 's/^/# /' "$T/chk"; }

# Hostile inputs: one line, the documented code, no output, no temp left.
bad() { # bad CODE DESCRIPTION PATTERN INPUT...
    code=$1 desc=$2 pat=$3
    shift 3
    expect_exit "$code" "$desc" -- "$STRATA" report "$@" --output "$T/bad"
    if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err" && ! grep -q Traceback "$T/err"; then
        ok "$desc: one line naming it"
    else
        not_ok "$desc: message"
        sed 's/^/# /' "$T/err" | head -5
    fi
    [ ! -e "$T/bad" ] && [ -z "$(ls -a "$T" | grep '^\.bad\.tmp')" ] && ok "$desc: nothing written" || not_ok "$desc: output left"
}
"$py" - "$T/ck/grown/stage-003.h5" "$T/extlink.h5" <<'PY'
import sys, shutil, h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    del f["metrics/depth"]
    f["metrics/depth"] = h5py.ExternalLink("/etc/passwd", "/x")
PY
bad 4 "an external link in a checkpoint" "extlink.h5: /metrics/depth is a ExternalLink, not a hard link" "$T/extlink.h5"
echo "not hdf5" >"$T/plain.h5"
bad 4 "a file that is not HDF5" "plain.h5: not a readable HDF5 file" "$T/plain.h5"
mkdir "$T/badjson" && cp "$T/ck/grown/metrics.jsonl" "$T/badjson/" && echo '{"type": "step", ' >>"$T/badjson/metrics.jsonl" && echo '}' >>"$T/badjson/metrics.jsonl"
bad 3 "a damaged metrics.jsonl" "metrics.jsonl:[0-9]*: not a JSON object" "$T/badjson"
mkdir "$T/badlatest" && echo "../../etc/passwd" >"$T/badlatest/LATEST"
bad 4 "a LATEST naming a path" "LATEST: '../../etc/passwd' is not a checkpoint name" "$T/badlatest"
mkfifo "$T/fifo.h5" 2>/dev/null && bad 4 "a FIFO" "fifo.h5: not a regular file" "$T/fifo.h5"
printf 'depth,loss\n1,2\n' >"$T/nopos.csv"
bad 3 "a per-position CSV without positions" "nopos.csv: no 'position' column" "$T/ck/mono" --per-position "$T/nopos.csv"
expect_exit 2 "no --output is a usage error" -- "$STRATA" report "$T/ck/mono"
STRATA_REPORT="$T/nowhere" "$STRATA" report "$T/ck/mono" --output "$T/x" >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && grep -q "cannot run .*nowhere.*python3-matplotlib" "$T/err" &&
    ok "a missing report program: exit 1 naming it and what it needs" || not_ok "missing report program"
finish

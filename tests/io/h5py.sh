#!/bin/sh
# h5py.sh -- the metric tables read with plain h5py, as docs/FORMAT.md shows.
. "$top_srcdir/tests/lib.sh"
if [ -z "${PYTHON3:-}" ] || ! "$PYTHON3" -c 'import h5py, numpy' 2>/dev/null; then
    echo "1..0 # SKIP python3 with h5py not available"
    exit 0
fi
f=$T/sample.h5
expect_exit 0 "test_write_sample writes a file" -- "$top_builddir/tests/io/test_write_sample" "$f"
cat >"$T/read.py" <<'PY'
import sys, math
import h5py, numpy as np

def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)

with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["format"] == "strata", f.attrs["format"]  # str, not bytes
    assert text(f.attrs["kind"]) == "checkpoint"
    assert int(f.attrs["format_version"]) >= 1
    g = f["metrics/depth"]
    cols = list(g)
    # columns in definition order, the dimension scale first
    assert cols[:4] == ["depth", "steps", "tokens", "wall_s"], cols
    assert cols[-1] == "probe_pos", cols
    t = {k: g[k][:] for k in g}
    assert list(t["depth"]) == [1, 2, 3], t["depth"]
    assert t["depth"].dtype == np.int64
    assert np.allclose(t["val_loss"], [2.75, 2.5, 2.25])
    assert np.allclose(t["probe_pos"], [0.6, 0.7, 0.8])
    assert all(math.isnan(x) for x in t["mfu"])
    assert g["val_loss"].attrs["units"] == "nats/token"
    assert "cross-entropy" in text(g["val_loss"].attrs["long_name"])
    scale = g["val_loss"].dims[0][0]
    assert scale.name == "/metrics/depth/depth", scale.name
    assert g["val_loss"].fletcher32
    s = f["metrics/steps"]
    assert list(s["step"][:]) == [10, 20, 30, 40, 50]
    assert f["config"].asstr()[()] == "[model]\nn_layers = 3\n"
    w = f["model/block_001/attn_qkv_w"][:]
    assert w.shape == (4, 8) and w.dtype == np.float32 and w[1, 0] == 2.0
    print("format attribute reads as", type(f.attrs["format"]).__name__)
PY
expect_exit 0 "h5py reads tables, attributes, scales, strings and tensors" -- "$PYTHON3" "$T/read.py" "$f"

# Exports keep "not measured" and a measured NaN apart (the sample's
# grad_norm: not measured, NaN, not measured, +inf, not measured).
"$STRATA" metrics --table steps --format json "$f" >"$T/steps.json" 2>"$T/err"
"$PYTHON3" -c '
import json, sys
g = [r["grad_norm"] for r in json.load(open(sys.argv[1]))]
assert g == [None, "NaN", None, "Infinity", None], g' "$T/steps.json" &&
    ok "JSON: not measured is null, a measured NaN is \"NaN\", +inf is \"Infinity\"" || not_ok "JSON export: $(cat "$T/steps.json")"
"$STRATA" metrics --table steps "$f" >"$T/steps.csv" 2>"$T/err"
"$PYTHON3" -c '
import csv, sys
g = [r["grad_norm"] for r in csv.DictReader(open(sys.argv[1]))]
assert g == ["", "nan", "", "inf", ""], g' "$T/steps.csv" && ok "CSV: an empty cell, nan and inf" ||
    not_ok "CSV export: $(cat "$T/steps.csv")"
finish

#!/usr/bin/env bash
# bitwise-compare.sh OLD_STRATA NEW_STRATA [CORPUS] -- the check behind a
# refactor that must not change behaviour: both binaries grow the same runs
# (tiny progressive / LoRA / monolithic / copy-init / disk-cache runs on
# tests/data/moby-60k.txt, and with CORPUS the demo config on it), then every
# stage file's model, optimizer and substrate tensors and /metrics/depth
# columns (except the timing ones) are hashed and the two lists compared.
# Exit 0 when identical.  Needs python3-h5py.  Takes a few minutes.
set -euo pipefail
old=$(readlink -f "$1") new=$(readlink -f "$2") corpus=${3:+$(readlink -f "$3")}
top=$(cd "$(dirname "$0")/.." && pwd)
top_srcdir=$top
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh" # tiny_config (and a temp dir $T of its own)
work=$(mktemp -d)
trap 'rm -rf "$work" "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1

grow_all() { # grow_all BINARY OUT
    local bin=$1 out=$2
    mkdir -p "$out"
    # the test suite's tiny 3-block config, with its files under $out
    (T=$out && tiny_config "$out/tiny.ini")
    local c=(grow --config "$out/tiny.ini")
    {
        mpirun -np 2 "$bin" "${c[@]}" --set run.name=prog
        mpirun -np 2 "$bin" "${c[@]}" --set run.name=lora --set grow.lora_from_depth=2
        mpirun -np 1 "$bin" "${c[@]}" --set run.name=mono --set grow.schedule=monolithic
        mpirun -np 3 "$bin" "${c[@]}" --set run.name=copy --set grow.init=copy --set grow.reinit_head=true
        mpirun -np 2 "$bin" "${c[@]}" --set run.name=disk --set grow.cache=disk
        if [ -n "$corpus" ]; then
            mkdir -p "$out/demo/data"
            cp "$corpus" "$out/demo/data/moby-dick.txt"
            cp "$top/jobs/configs/demo.ini" "$out/demo/"
            (cd "$out/demo" && mpirun -np 2 "$bin" grow --config demo.ini)
        fi
    } >"$out/log" 2>&1
    /usr/bin/python3 - "$out" >"$out/hashes" <<'PY'
import glob, hashlib, os, sys
import h5py
out = sys.argv[1]
skip = {"wall_s", "tokens_per_s", "mfu"}
for f in sorted(glob.glob(out + "/ck/*/stage-*.h5") + glob.glob(out + "/demo/checkpoints/*/stage-*.h5")):
    with h5py.File(f, "r") as h:
        names = []
        h.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset)
                     and n.split("/")[0] in ("model", "optim", "substrate") else None)
        for n in sorted(names):
            print(os.path.relpath(f, out), n, hashlib.sha256(h[n][()].tobytes()).hexdigest()[:16])
        d = h["metrics/depth"]
        for c in sorted(k for k in d.keys() if k not in skip):
            print(os.path.relpath(f, out), "depth", c, hashlib.sha256(d[c][()].tobytes()).hexdigest()[:16])
PY
}

grow_all "$old" "$work/old"
grow_all "$new" "$work/new"
# Same lines in both, except that the new binary may add tensors or
# columns (listed, not a difference); anything missing or changed is one.
/usr/bin/python3 - "$work/old/hashes" "$work/new/hashes" <<'PY'
import sys
def load(p):
    d = {}
    for line in open(p):
        *key, h = line.split()
        d[" ".join(key)] = h
    return d
old, new = load(sys.argv[1]), load(sys.argv[2])
changed = [k for k in old if k in new and old[k] != new[k]]
missing = [k for k in old if k not in new]
added = [k for k in new if k not in old]
for k in added: print("added (not compared):", k)
for k in missing: print("MISSING in new:", k)
for k in changed: print("CHANGED:", k)
same = len(old) - len(changed) - len(missing)
if changed or missing or not old:
    print(f"bitwise-compare: DIFFERENT ({len(changed)} changed, {len(missing)} missing, {same} identical)")
    sys.exit(1)
print(f"bitwise-compare: identical ({same} tensors and depth columns; {len(added)} added)")
PY

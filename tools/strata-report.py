#!/usr/bin/python3
# strata-report -- figures of growth runs: PNG panels and an index.html.
#
#   strata report RUN_DIR_OR_CHECKPOINT [more...] --output DIR [--force]
#                 [--per-position FILE.csv]... [--label NAME]...
#
# Panels (docs/REPORT.md): training loss vs tokens coloured by stage, and by
# depth the validation bits/char, top-1, wall time, MFU and every other
# numeric per-depth column (probes such as induction*, tasks task_*), the
# per-position loss of --per-position files; several inputs are overlaid,
# one series per input.  DIR gets the PNGs, index.html and manifest.json
# (panels and their series counts).  DIR is written under a temporary name
# and renamed into place; an existing DIR is replaced only with --force.
#
# Inputs may come from strangers: files are checked before they are read
# (regular files only, hard links only, no external or virtual storage,
# numeric 1-D columns of bounded length); a bad input is one line naming the
# file and an exit code: 2 usage (an existing DIR without --force), 3 bad
# input data (metrics.jsonl, CSV), 4 a checkpoint problem, 1 anything else
# (including python3-h5py or python3-matplotlib missing).
import argparse
import csv
import html
import json
import math
import os
import re
import shutil
import stat
import sys
import tempfile

PROG = "strata report"
MAX_ROWS = 10_000_000          # rows of a column / lines of a file
MAX_TEXT = 1 << 30             # bytes of metrics.jsonl or a CSV
KNOWN_DEPTH = ["depth", "steps", "tokens", "wall_s", "train_loss", "val_loss", "val_bits_per_char",
               "val_top1", "tokens_per_s", "mfu", "flops", "rollbacks"]
# per-depth panels of known columns: (column, title, y label)
DEPTH_PANELS = [("val_bits_per_char", "validation bits per character", "bits/char"),
                ("val_top1", "validation next-token top-1 accuracy", "accuracy"),
                ("wall_s", "wall time of the stage", "s"),
                ("mfu", "model FLOPs utilisation", "MFU")]
LATEST_RE = re.compile(r"^(stage-[0-9]{3}|step-[0-9]{8})\.h5$")


class ReportError(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def fail(code, msg):
    raise ReportError(code, msg)


def regular_file(path, code):
    try:
        st = os.stat(path)
    except OSError as e:
        fail(code, "%s: %s" % (path, e.strerror))
    if not stat.S_ISREG(st.st_mode):
        fail(code, "%s: not a regular file" % path)
    return st


# ---- checkpoints (h5py, checked) -------------------------------------------

def h5_object(f, path, want, fname):
    """The object at path, reached through hard links only."""
    import h5py
    obj = f
    parts = [p for p in path.split("/") if p]
    for i, p in enumerate(parts):
        link = obj.get(p, getlink=True)
        where = "/" + "/".join(parts[:i + 1])
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            fail(4, "%s: %s is a %s, not a hard link (refused)" % (fname, where, type(link).__name__))
        obj = obj[p]
    if want == "group" and not isinstance(obj, h5py.Group):
        fail(4, "%s: /%s is not a group" % (fname, path))
    if want == "dataset" and not isinstance(obj, h5py.Dataset):
        fail(4, "%s: /%s is not a dataset" % (fname, path))
    return obj


def h5_column(ds, fname):
    import numpy as np
    name = ds.name
    if ds.is_virtual or ds.external:
        fail(4, "%s: %s has external or virtual storage (refused)" % (fname, name))
    if ds.dtype.kind not in "fiu" or ds.dtype.itemsize > 8:
        fail(4, "%s: %s is not a numeric column (type %s)" % (fname, name, ds.dtype))
    if ds.ndim != 1:
        fail(4, "%s: %s has %d dimensions, a column has 1" % (fname, name, ds.ndim))
    if ds.shape[0] > MAX_ROWS:
        fail(4, "%s: %s has %d rows (more than %d)" % (fname, name, ds.shape[0], MAX_ROWS))
    return np.asarray(ds[()], dtype=np.float64)


def h5_table(f, group, fname):
    """{column: float64 array} of a strata column table, or None when absent."""
    import h5py
    g = h5_object(f, group, "group", fname)
    if g is None:
        return None
    cols, n = {}, None
    for key in g.keys():
        link = g.get(key, getlink=True)
        if not isinstance(link, h5py.HardLink):
            fail(4, "%s: /%s/%s is a %s, not a hard link (refused)" % (fname, group, key, type(link).__name__))
        obj = g[key]
        if not isinstance(obj, h5py.Dataset):
            continue
        if obj.dtype.kind not in "fiu":
            continue  # not a number column: nothing to plot
        v = h5_column(obj, fname)
        if n is not None and len(v) != n:
            fail(4, "%s: /%s/%s has %d rows, other columns %d" % (fname, group, key, len(v), n))
        n = len(v)
        cols[key] = v
    return cols


def read_checkpoint(path):
    regular_file(path, 4)
    try:
        import h5py
    except ImportError:
        fail(1, "needs python3-h5py (apt-get install python3-h5py python3-matplotlib)")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(4, "%s: not a readable HDF5 file (%s)" % (path, str(e).split("\n")[0]))
    with f:
        try:
            fmt = f.attrs.get("format")
            kind = f.attrs.get("kind")
        except Exception as e:
            fail(4, "%s: unreadable root attributes (%s)" % (path, e))
        if isinstance(fmt, bytes):
            fmt = fmt.decode("utf-8", "replace")
        if isinstance(kind, bytes):
            kind = kind.decode("utf-8", "replace")
        if fmt != "strata" or kind != "checkpoint":
            fail(4, "%s: not a strata checkpoint (format %r, kind %r)" % (path, fmt, kind))
        try:
            steps = h5_table(f, "metrics/steps", path)
            depth = h5_table(f, "metrics/depth", path)
        except ReportError:
            raise
        except Exception as e:  # h5py/HDF5 errors of a damaged file
            fail(4, "%s: cannot read its metrics (%s)" % (path, str(e).split("\n")[0]))
    return steps, depth


# ---- metrics.jsonl and CSV --------------------------------------------------

def num(v):
    """A JSON value as a float: numbers, and strata's "NaN"/"Infinity" strings."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if v in ("NaN", "Infinity", "-Infinity"):
        return float(v.replace("Infinity", "inf"))
    return None


def read_jsonl(path):
    st = regular_file(path, 3)
    if st.st_size > MAX_TEXT:
        fail(3, "%s: %d bytes, more than %d" % (path, st.st_size, MAX_TEXT))
    recs = []
    with open(path, "rb") as fh:
        data = fh.read()
    lines = data.split(b"\n")
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        if i == len(lines) - 1:
            break  # a last line without its newline: cut by a crash, not yet complete
        try:
            r = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            fail(3, "%s:%d: not a JSON object (%s)" % (path, i + 1, e))
        if not isinstance(r, dict):
            fail(3, "%s:%d: not a JSON object" % (path, i + 1))
        recs.append(r)
    steps = {"tokens": [], "train_loss": [], "stage": []}
    for r in recs:
        if r.get("type") != "step":
            continue
        # "train_loss" (the column vocabulary); "loss" in files of earlier builds
        t, l, s = num(r.get("tokens")), num(r.get("train_loss", r.get("loss"))), num(r.get("stage"))
        if t is None or l is None or s is None:
            continue
        steps["tokens"].append(t)
        steps["train_loss"].append(l)
        steps["stage"].append(s)
    return steps


def read_per_position(path):
    st = regular_file(path, 3)
    if st.st_size > MAX_TEXT:
        fail(3, "%s: %d bytes, more than %d" % (path, st.st_size, MAX_TEXT))
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        fail(3, "%s: empty CSV" % path)
    head = [h.strip() for h in rows[0]]
    xcol = next((i for i, h in enumerate(head) if h in ("position", "pos")), None)
    if xcol is None:
        fail(3, "%s: no 'position' column in the header %s" % (path, ",".join(head)))
    data = []
    for n, r in enumerate(rows[1:MAX_ROWS], start=2):
        if not r:
            continue
        if len(r) != len(head):
            fail(3, "%s:%d: %d fields, the header has %d" % (path, n, len(r), len(head)))
        vals = []
        for v in r:
            v = v.strip()
            try:
                vals.append(float(v) if v else math.nan)
            except ValueError:
                vals.append(None)
        data.append(vals)
    # series: one per depth (a 'depth' column and a loss column), else one
    # per numeric column besides the position
    series = {}
    dcol = next((i for i, h in enumerate(head) if h == "depth"), None)
    if dcol is not None:
        ycol = next((i for i, h in enumerate(head) if h == "loss"), None)
        if ycol is None:
            ycol = next((i for i in range(len(head)) if i not in (xcol, dcol)), None)
        if ycol is None:
            fail(3, "%s: no loss column" % path)
        for r in data:
            if r[xcol] is None or r[dcol] is None or r[ycol] is None:
                fail(3, "%s: a position, depth or %s that is not a number" % (path, head[ycol]))
            series.setdefault("depth %d" % r[dcol], ([], []))
            series["depth %d" % r[dcol]][0].append(r[xcol])
            series["depth %d" % r[dcol]][1].append(r[ycol])
    else:
        for i, h in enumerate(head):
            if i == xcol:
                continue
            pts = [(r[xcol], r[i]) for r in data if r[xcol] is not None and r[i] is not None]
            if pts and len(pts) == len(data):
                series[h] = ([p[0] for p in pts], [p[1] for p in pts])
    if not series:
        fail(3, "%s: no numeric loss column besides the position" % path)
    return series


# ---- inputs ------------------------------------------------------------------

def checkpoint_of_dir(d):
    latest = os.path.join(d, "LATEST")
    if os.path.lexists(latest):
        st = os.lstat(latest)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 65:
            fail(4, "%s: not a regular file of at most 65 bytes" % latest)
        with open(latest, "rb") as fh:
            name = fh.read().decode("utf-8", "replace").strip()
        if not LATEST_RE.match(name):
            fail(4, "%s: '%s' is not a checkpoint name (stage-NNN.h5 or step-NNNNNNNN.h5)" % (latest, name))
        return os.path.join(d, name)
    stages = sorted(n for n in os.listdir(d) if LATEST_RE.match(n) and n.startswith("stage-"))
    return os.path.join(d, stages[-1]) if stages else None


def load_input(path):
    run = {"path": path, "steps": None, "depth": None}
    if os.path.isdir(path):
        run["label"] = os.path.basename(os.path.normpath(path))
        ck = checkpoint_of_dir(path)
        jl = os.path.join(path, "metrics.jsonl")
        if ck:
            run["steps"], run["depth"] = read_checkpoint(ck)
            run["checkpoint"] = ck
        if os.path.lexists(jl):
            run["steps"] = read_jsonl(jl)  # every logged step, also after the last checkpoint
        if not ck and not os.path.lexists(jl):
            fail(4, "%s: no checkpoint (LATEST, stage-*.h5) and no metrics.jsonl" % path)
    else:
        stem = os.path.splitext(os.path.basename(path))[0]
        parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
        run["label"] = "%s/%s" % (parent, stem) if parent else stem
        run["steps"], run["depth"] = read_checkpoint(path)
        run["checkpoint"] = path
    return run


# ---- figures -----------------------------------------------------------------

def finite_pairs(xs, ys):
    return [(x, y) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]


class Report:
    def __init__(self, plt, outdir):
        self.plt, self.outdir, self.panels = plt, outdir, []

    def save(self, fig, ax, name, title, series, note=""):
        if ax.get_legend() is None and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(self.outdir, name), dpi=100)
        self.plt.close(fig)
        self.panels.append({"file": name, "title": title, "series": series, "note": note})


STYLES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def plot_loss(rep, runs):
    plt = rep.plt
    from matplotlib.lines import Line2D
    have = [r for r in runs if r["steps"] and "tokens" in r["steps"] and len(r["steps"]["tokens"])]
    if not have:
        return
    fig, ax = plt.subplots(figsize=(8, 4.5))
    cmap = plt.get_cmap("tab10")
    stages_seen, handles = set(), []
    for i, r in enumerate(have):
        s = r["steps"]
        stage = list(s.get("stage", [1] * len(s["tokens"])))
        tok, loss = list(s["tokens"]), list(s.get("train_loss", []))
        for k in sorted(set(stage)):
            pts = finite_pairs([t for t, g in zip(tok, stage) if g == k], [l for l, g in zip(loss, stage) if g == k])
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], STYLES[i % len(STYLES)],
                        color=cmap(int(k - 1) % 10), lw=1.2)
                stages_seen.add(k)
        handles.append(Line2D([], [], color="black", ls=STYLES[i % len(STYLES)], label=r["label"]))
    for k in sorted(stages_seen):
        handles.append(Line2D([], [], color=cmap(int(k - 1) % 10), lw=4, label="stage %d" % k))
    ax.set_xlabel("training tokens")
    ax.set_ylabel("training loss (nats/token)")
    ax.legend(handles=handles, fontsize="small", ncol=2)
    rep.save(fig, ax, "loss_vs_tokens.png", "training loss vs tokens, coloured by stage", len(have),
             "one line style per input, one colour per stage")


def plot_depth_column(rep, runs, col, title, ylabel, fname):
    have = [r for r in runs if r["depth"] and col in r["depth"] and "depth" in r["depth"]
            and any(math.isfinite(v) for v in r["depth"][col])]
    if not have:
        return
    fig, ax = rep.plt.subplots(figsize=(6.5, 4))
    for i, r in enumerate(have):
        d = r["depth"]
        pts = finite_pairs(list(d["depth"]), list(d[col]))
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        se = next((d[c] for c in (col + "_se", col + "_stderr") if c in d), None)
        style = dict(marker=MARKERS[i % len(MARKERS)], ls=STYLES[i % len(STYLES)], label=r["label"])
        if se is not None:
            errs = [e for x, e in zip(d["depth"], se) if x in xs]
            errs = [e if math.isfinite(e) else 0.0 for e in errs][:len(xs)]
            ax.errorbar(xs, ys, yerr=errs, capsize=3, **style)
        else:
            ax.plot(xs, ys, **style)
    ax.set_xlabel("depth (blocks)")
    ax.set_ylabel(ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    rep.save(fig, ax, fname, title, len(have))


def plot_per_position(rep, files):
    if not files:
        return
    fig, ax = rep.plt.subplots(figsize=(7, 4))
    n = 0
    for i, (path, series) in enumerate(files):
        tag = os.path.basename(path)
        for name, (xs, ys) in series.items():
            ax.plot(xs, ys, STYLES[i % len(STYLES)], label="%s %s" % (tag, name) if len(files) > 1 else name)
            n += 1
    ax.set_xlabel("position in the context")
    ax.set_ylabel("mean loss (nats/token)")
    rep.save(fig, ax, "per_position.png", "loss by position in the context", n)


def slug(col):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", col)


def extra_columns(runs):
    """Numeric per-depth columns besides the known ones (probes, tasks), in order."""
    seen = []
    for r in runs:
        for c in (r["depth"] or {}):
            if c in KNOWN_DEPTH or c in seen or c.endswith("_se") or c.endswith("_stderr"):
                continue
            seen.append(c)
    return seen


def write_index(outdir, runs, panels, per_position):
    e = html.escape
    out = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\"><title>strata report</title>",
           "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}"
           "table{border-collapse:collapse;font-size:small}td,th{border:1px solid #ccc;padding:2px 6px}"
           "img{max-width:100%}</style></head><body>", "<h1>strata report</h1>", "<h2>Inputs</h2><ul>"]
    for r in runs:
        out.append("<li><b>%s</b>: %s%s</li>" % (e(r["label"]), e(r["path"]),
                                                 " (checkpoint %s)" % e(r["checkpoint"]) if r.get("checkpoint") else ""))
    for p in per_position:
        out.append("<li>per-position loss: %s</li>" % e(p))
    out.append("</ul>")
    for p in panels:
        out.append("<h2>%s</h2><p>%d series%s</p><img src=\"%s\" alt=\"%s\">" %
                   (e(p["title"]), p["series"], ("; " + e(p["note"])) if p["note"] else "",
                    e(p["file"]), e(p["title"])))
    for r in runs:
        d = r["depth"]
        if not d or "depth" not in d:
            continue
        cols = list(d.keys())
        out.append("<h2>/metrics/depth of %s</h2><table><tr>%s</tr>" %
                   (e(r["label"]), "".join("<th>%s</th>" % e(c) for c in cols)))
        for i in range(len(d["depth"])):
            out.append("<tr>%s</tr>" % "".join("<td>%.6g</td>" % d[c][i] for c in cols))
        out.append("</table>")
    out.append("</body></html>")
    with open(os.path.join(outdir, "index.html"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(out) + "\n")


# ---- output ------------------------------------------------------------------

def guard_output(out, force, inputs):
    if os.path.lexists(out):
        st = os.lstat(out)
        if not stat.S_ISDIR(st.st_mode):
            fail(2, "%s: exists and is not a directory (refused, also with --force)" % out)
        if not force:
            fail(2, "%s: exists; pass --force to replace it" % out)
        ro = os.path.realpath(out)
        for i in inputs:
            ri = os.path.realpath(i)
            if ri == ro or ri.startswith(ro + os.sep) or ro.startswith(ri + os.sep):
                fail(2, "%s: holds or is inside the input %s (refused, also with --force)" % (out, i))


def publish(tmp, out):
    """Put the finished directory tmp in place of out (rename; the old one goes after)."""
    old = None
    if os.path.lexists(out):
        old = tempfile.mkdtemp(prefix=".%s.old." % os.path.basename(out), dir=os.path.dirname(out) or ".")
        os.rmdir(old)
        os.rename(out, old)
    os.rename(tmp, out)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def main(argv):
    ap = argparse.ArgumentParser(prog=PROG, description="PNG figures and an index.html of growth runs "
                                 "(run directories or checkpoints); several inputs are overlaid.")
    ap.add_argument("inputs", nargs="+", metavar="RUN_DIR_OR_CHECKPOINT")
    ap.add_argument("--output", required=True, metavar="DIR", help="directory to write (PNGs, index.html, manifest.json)")
    ap.add_argument("--force", action="store_true", help="replace an existing DIR")
    ap.add_argument("--per-position", action="append", default=[], metavar="FILE.csv",
                    help="per-position loss CSV of 'strata eval --per-position' (repeatable)")
    ap.add_argument("--label", action="append", default=[], metavar="NAME",
                    help="legend name of each input, in order (default: the run directory's name)")
    a = ap.parse_args(argv)
    if a.label and len(a.label) != len(a.inputs):
        fail(2, "%d --label for %d inputs" % (len(a.label), len(a.inputs)))
    out = a.output.rstrip("/") or a.output
    guard_output(out, a.force, a.inputs + a.per_position)
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        fail(2, "%s: its directory %s does not exist" % (out, parent))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail(1, "needs python3-matplotlib (apt-get install python3-h5py python3-matplotlib)")

    runs = [load_input(p) for p in a.inputs]
    for r, lab in zip(runs, a.label):
        r["label"] = lab
    labels = {}
    for r in runs:  # the same name twice: number them
        n = labels.get(r["label"], 0)
        labels[r["label"]] = n + 1
        if n:
            r["label"] = "%s (%d)" % (r["label"], n + 1)
    pos = [(p, read_per_position(p)) for p in a.per_position]

    tmp = tempfile.mkdtemp(prefix=".%s.tmp." % os.path.basename(out), dir=parent)
    try:
        rep = Report(plt, tmp)
        plot_loss(rep, runs)
        for col, title, ylabel in DEPTH_PANELS:
            plot_depth_column(rep, runs, col, title + " by depth", ylabel, "depth_%s.png" % col)
        for col in extra_columns(runs):
            plot_depth_column(rep, runs, col, "%s by depth" % col, col, "depth_%s.png" % slug(col))
        plot_per_position(rep, pos)
        write_index(tmp, runs, rep.panels, a.per_position)
        with open(os.path.join(tmp, "manifest.json"), "w") as fh:
            json.dump({"inputs": [r["path"] for r in runs], "labels": [r["label"] for r in runs],
                       "panels": [{"file": p["file"], "title": p["title"], "series": p["series"]}
                                  for p in rep.panels]}, fh, indent=1)
            fh.write("\n")
        os.chmod(tmp, 0o755)
        publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print("%s: %d panels for %d input%s; open %s" % (PROG, len(rep.panels), len(runs),
                                                     "" if len(runs) == 1 else "s", os.path.join(out, "index.html")))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ReportError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        sys.exit(e.code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # never a traceback for a stranger's file
        print("%s: error: %s: %s" % (PROG, type(e).__name__, str(e).split("\n")[0]), file=sys.stderr)
        sys.exit(1)

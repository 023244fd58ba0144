#!/usr/bin/python3
"""strata_torch.py -- reference loader: a `strata export` directory in PyTorch.

Rebuilds the model of docs/MODEL.md from DIR/config.json and
DIR/model.safetensors (format: docs/FORMAT.md "Export directories") with
plain torch ops and computes its logits.  The safetensors file is read by a
small reader below (Debian has no python3-safetensors); it checks the header
the way strata import does.

    /usr/bin/python3 tools/strata_torch.py DIR --tokens 5,17,42 [--depth K] [--dtype float64]
    /usr/bin/python3 tools/strata_torch.py DIR --text "Call me Ishmael" [--top 5]

--tokens prints one line of V logits per position (%.9g, space separated);
--text encodes the text with DIR/tokenizer.json (greedy longest match:
n-grams, then the character, then its UTF-8 bytes) and prints the top
next-token candidates.  As a module:

    model = load("DIR"); logits = model.forward(torch.tensor([[5, 17, 42]]))  # [B, T, V]
"""
import argparse
import json
import math
import os
import struct
import sys

import torch

MAX_HEADER = 100 << 20


def read_safetensors(path):
    """{name: float32 tensor} of a safetensors file (F32 only), validated."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", buf[:8])
    if n < 2 or n > MAX_HEADER or n > len(buf) - 8:
        raise ValueError(f"{path}: header length {n} is impossible")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    data = buf[8 + n:]
    out, ranges = {}, []
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e.get("dtype") != "F32":
            raise ValueError(f"{path}: tensor {name} has dtype {e.get('dtype')}, expected F32")
        shape, (a, b) = e["shape"], e["data_offsets"]
        numel = math.prod(shape)
        if not 0 <= a <= b <= len(data) or b - a != 4 * numel:
            raise ValueError(f"{path}: tensor {name} has bad data_offsets {a}, {b}")
        ranges.append((a, b, name))
        t = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32) if numel else torch.zeros(0)
        if sys.byteorder != "little":
            t = t.view(torch.int32).byteswap().view(torch.float32)  # pragma: no cover
        out[name] = t.reshape(shape)
    pos = 0
    for a, b, name in sorted(ranges):
        if a != pos:
            raise ValueError(f"{path}: tensor {name} overlaps or leaves a gap at byte {pos}")
        pos = b
    if pos != len(data):
        raise ValueError(f"{path}: {len(data) - pos} trailing data bytes")
    return out


def rmsnorm(x, g, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * g


def rope(x, theta):
    """x [B, H, T, hd]: rotate interleaved pairs (2i, 2i+1) by t * theta^(-2i/hd)."""
    B, H, T, hd = x.shape
    i = torch.arange(hd // 2, dtype=torch.float64)
    f = theta ** (-2.0 * i / hd)
    a = torch.arange(T, dtype=torch.float64)[:, None] * f[None, :]  # [T, hd/2]
    c, s = torch.cos(a).to(x.dtype), torch.sin(a).to(x.dtype)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


class StrataModel:
    def __init__(self, cfg, tensors, dtype=torch.float64):
        if cfg.get("format") != "strata-export":
            raise ValueError("config.json is not a strata export")
        if cfg["norm"] != "rmsnorm" or cfg["activation"] != "gelu_exact" or cfg["rope"]["layout"] != "interleaved":
            raise ValueError("unsupported norm / activation / RoPE layout")
        self.cfg = cfg
        self.V, self.D, self.L = cfg["vocab_size"], cfg["d_model"], cfg["n_layers"]
        self.H, self.F = cfg["n_heads"], cfg["d_ff"]
        self.eps, self.theta = cfg["norm_eps"], cfg["rope"]["theta"]
        self.w = {k: v.to(dtype) for k, v in tensors.items()}
        expect = {"embed.weight": [self.V, self.D], "head.norm_g": [self.D], "head.out_w": [self.V, self.D]}
        for l in range(self.L):
            D, F = self.D, self.F
            for n, s in (("ln1_g", [D]), ("attn_qkv_w", [3 * D, D]), ("attn_out_w", [D, D]),
                         ("ln2_g", [D]), ("mlp_in_w", [F, D]), ("mlp_out_w", [D, F])):
                expect[f"blocks.{l}.{n}"] = s
        for n, s in expect.items():
            if n not in self.w or list(self.w[n].shape) != s:
                raise ValueError(f"tensor {n}: expected shape {s}")
        extra = set(self.w) - set(expect)
        if extra:
            raise ValueError(f"unexpected tensors {sorted(extra)}")

    def block(self, l, x):
        w = lambda n: self.w[f"blocks.{l}.{n}"]
        B, T, D = x.shape
        H, hd = self.H, D // self.H
        a = rmsnorm(x, w("ln1_g"), self.eps)
        qkv = a @ w("attn_qkv_w").T
        q, k, v = (qkv[..., i * D:(i + 1) * D].reshape(B, T, H, hd).transpose(1, 2) for i in range(3))
        q, k = rope(q, self.theta), rope(k, self.theta)
        s = q @ k.transpose(-1, -2) / math.sqrt(hd)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        p = torch.softmax(s.masked_fill(mask, float("-inf")), -1)
        o = (p @ v).transpose(1, 2).reshape(B, T, D)
        x = x + o @ w("attn_out_w").T
        m = rmsnorm(x, w("ln2_g"), self.eps)
        return x + torch.nn.functional.gelu(m @ w("mlp_in_w").T) @ w("mlp_out_w").T

    def forward(self, tokens, depth=None):
        """tokens [B, T] int64 -> logits [B, T, V] after block `depth` (default all)."""
        depth = self.L if depth is None else depth
        x = self.w["embed.weight"][tokens]
        for l in range(depth):
            x = self.block(l, x)
        return rmsnorm(x, self.w["head.norm_g"], self.eps) @ self.w["head.out_w"].T


def load(d, dtype=torch.float64):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    return StrataModel(cfg, read_safetensors(os.path.join(d, "model.safetensors")), dtype)


class Tokenizer:
    """tokenizer.json: greedy longest match (n-grams, character, UTF-8 bytes)."""

    def __init__(self, d):
        with open(os.path.join(d, "tokenizer.json")) as f:
            j = json.load(f)
        self.nmax = j["ngram_max"]
        self.piece, self.byte, self.text = {}, {}, {}
        for e in j["tokens"]:
            if e["kind"] in ("char", "ngram"):
                self.piece[e["text"]] = e["id"]
            elif e["kind"] == "byte":
                self.byte[e["byte"]] = e["id"]
            self.text[e["id"]] = e["text"] if e["kind"] in ("char", "ngram") else ""

    def encode(self, s):
        ids, i = [], 0
        while i < len(s):
            for n in range(min(self.nmax, len(s) - i), 0, -1):
                if s[i:i + n] in self.piece:
                    ids.append(self.piece[s[i:i + n]])
                    i += n
                    break
            else:
                ids.extend(self.byte[b] for b in s[i].encode("utf-8", "surrogatepass"))
                i += 1
        return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--tokens", help="comma-separated token ids")
    g.add_argument("--text", help="text to encode with tokenizer.json")
    g.add_argument("--encode", metavar="TEXT", help="print the ids tokenizer.json gives TEXT, comma-separated")
    ap.add_argument("--depth", type=int, default=None)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    ap.add_argument("--top", type=int, default=5)
    a = ap.parse_args()
    if a.encode is not None:
        print(",".join(str(i) for i in Tokenizer(a.dir).encode(a.encode)))
        return
    model = load(a.dir, getattr(torch, a.dtype))
    if a.tokens is not None:
        ids = [int(t) for t in a.tokens.split(",")]
    else:
        tok = Tokenizer(a.dir)
        ids = tok.encode(a.text)
    with torch.no_grad():
        logits = model.forward(torch.tensor([ids], dtype=torch.int64), a.depth)[0]
    if a.tokens is not None:
        for row in logits.tolist():
            print(" ".join("%.9g" % v for v in row))
    else:
        p = torch.softmax(logits[-1], -1)
        top = torch.topk(p, min(a.top, model.V))
        for pr, i in zip(top.values.tolist(), top.indices.tolist()):
            print(f"{i}\t{pr:.4f}\t{tok.text.get(i, '')!r}")


if __name__ == "__main__":
    main()

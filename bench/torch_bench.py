#!/usr/bin/python3
"""torch_bench.py -- PyTorch 1.13 training the same one-block stage step the
C engine benchmarks (bench/bench_stage.c): frozen substrate E [V, D] ->
block 1 -> head, mean cross-entropy, backward, clip_grad_norm_ 1.0, AdamW
(wd on matrices only).  The model is tools/torch_ref.py's forward, so both
programs train exactly the model of docs/MODEL.md.

The timed forward is fast_forward (idiomatic fused PyTorch ops, checked
against torch_ref.forward first); TORCH_BENCH_PLAIN=1 times torch_ref.forward.

Usage: torch_bench.py [steps] [reps]   (prints best tokens/s over reps runs of
`steps` steps each, after one warm-up step; one thread)

Environment: TORCH_BENCH_V (vocabulary, default 5000); TORCH_BENCH_BF16=1
runs forward and loss under torch.autocast("cpu", dtype=torch.bfloat16)
(PyTorch's CPU mixed precision; weights, grads and AdamW stay fp32);
TORCH_BENCH_DEPTH=k trains the top block of a k-block model (blocks 1..k-1
frozen, run forward under no_grad every step: PyTorch's way of growing a
model, which has no activation cache).
"""
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import torch  # noqa: E402
import torch_ref as R  # noqa: E402

D, H, F, T, B = 256, 4, 1024, 256, 8
V = int(os.environ.get("TORCH_BENCH_V", "5000"))
BF16 = os.environ.get("TORCH_BENCH_BF16", "") not in ("", "0")
DEPTH = int(os.environ.get("TORCH_BENCH_DEPTH", "1"))


def _rope_tables(Tt, hd, theta, dtype):
    i = torch.arange(hd // 2, dtype=torch.float64)
    ang = torch.arange(Tt, dtype=torch.float64)[:, None] * theta ** (-2.0 * i / hd)
    return torch.cos(ang).to(dtype)[None, None], torch.sin(ang).to(dtype)[None, None]  # [1, 1, T, hd/2]


def _norm(x, g, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g


def block_forward(x, p, H, eps, theta):
    """One block of torch_ref.forward written with fused library ops."""
    import torch.nn.functional as Fn
    Bb, Tt, Dd = x.shape
    hd = Dd // H
    cos, sin = _rope_tables(Tt, hd, theta, torch.float32 if x.dtype == torch.bfloat16 else x.dtype)
    mask = torch.full((Tt, Tt), float("-inf"), dtype=cos.dtype).triu(1)

    def rope(z):  # [B, H, T, hd]
        z0, z1 = z[..., 0::2], z[..., 1::2]
        return torch.stack((z0 * cos - z1 * sin, z0 * sin + z1 * cos), -1).flatten(-2)

    q, k, v = Fn.linear(_norm(x, p["ln1_g"], eps), p["attn_qkv_w"]).view(Bb, Tt, 3, H, hd).permute(2, 0, 3, 1, 4)
    s = torch.matmul(rope(q), rope(k).transpose(-1, -2)) / math.sqrt(hd) + mask
    o = torch.matmul(torch.softmax(s, -1), v).transpose(1, 2).reshape(Bb, Tt, Dd)
    x = x + Fn.linear(o, p["attn_out_w"])
    return x + Fn.linear(Fn.gelu(Fn.linear(_norm(x, p["ln2_g"], eps), p["mlp_in_w"])), p["mlp_out_w"])


def top_forward(x, tokens, blocks, head, H, eps, theta):
    """Blocks then head and mean cross-entropy from the block input x."""
    import torch.nn.functional as Fn
    for p in blocks:
        x = block_forward(x, p, H, eps, theta)
    logits = Fn.linear(_norm(x, head["norm_g"], eps), head["out_w"])
    return logits, Fn.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


def fast_forward(tokens, E, blocks, head, H, eps, theta):
    """The model of torch_ref.forward written the way a PyTorch user would
    (fused library ops: F.linear, F.gelu, F.softmax, F.cross_entropy, RoPE
    tables built once per block), so PyTorch is not handicapped by the
    reference's deliberately plain formulation.  main() checks that both
    agree before timing."""
    return top_forward(E[tokens[:, :-1]], tokens, blocks, head, H, eps, theta)


def check_fast_forward():
    """fast_forward == torch_ref.forward (float64, small shapes)."""
    g = torch.Generator().manual_seed(3)
    E = R.substrate(g, 41, 32).double()
    blocks, head = R.init_params(g, 32, 48, 41, 2)
    blocks = [{k: v.double() for k, v in b.items()} for b in blocks]
    head = {k: v.double() for k, v in head.items()}
    tok = torch.randint(0, 41, (2, 10), generator=g)
    l1, s1 = R.forward(tok, E, blocks, head, 4, 1e-5, 10000.0)
    l2, s2 = fast_forward(tok, E, blocks, head, 4, 1e-5, 10000.0)
    err = (l1 - l2).abs().max().item()
    assert err < 1e-10 and abs(s1.item() - s2.item()) < 1e-10, "fast_forward differs: %g" % err


def openblas_core():
    """The OpenBLAS core torch runs on (Debian's torch links libopenblas)."""
    import ctypes
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "unknown"


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    torch.set_num_threads(1)
    check_fast_forward()
    fwd = R.forward if os.environ.get("TORCH_BENCH_PLAIN") else fast_forward
    g = torch.Generator().manual_seed(1)
    E = R.substrate(g, V, D)
    blocks, head = R.init_params(g, D, F, V, DEPTH, scale=0.1)
    frozen, top = blocks[:-1], blocks[-1:]
    for p in list(top[0].values()) + list(head.values()):
        p.requires_grad_(True)
    named = list(top[0].items()) + list(head.items())
    params = [t for _, t in named]
    opt = torch.optim.AdamW(
        [{"params": [t for n, t in named if R.decays(n)], "weight_decay": 0.1},
         {"params": [t for n, t in named if not R.decays(n)], "weight_decay": 0.0}],
        lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    tokens = torch.randint(0, V, (B, T + 1), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16):
            if frozen:  # the frozen blocks below: forward only, every step
                with torch.no_grad():
                    x = E[tokens[:, :-1]]
                    for p in frozen:
                        x = block_forward(x, p, H, 1e-5, 10000.0)
                _, loss = top_forward(x, tokens, top, head, H, 1e-5, 10000.0)
            else:
                _, loss = fwd(tokens, E, blocks, head, H, 1e-5, 10000.0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    loss0 = step()  # warm-up
    best = best_cpu = math.inf
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            loss = step()
        best = min(best, (time.perf_counter() - t0) / steps)
        best_cpu = min(best_cpu, (time.process_time() - c0) / steps)
    print("# torch %s, threads %d, openblas_get_corename() = %s, forward: %s, V %d, %s, depth %d "
          "(top block trained), mkldnn %s"
          % (torch.__version__, torch.get_num_threads(), openblas_core(), fwd.__name__, V,
             "bf16 autocast" if BF16 else "fp32", DEPTH,
             torch.backends.mkldnn.is_available()))
    print("torch stage step: %.4f s/step (best of %d x %d steps; %.4f CPU s/step), %.0f tokens/s, "
          "loss %.4f -> %.4f" % (best, reps, steps, best_cpu, B * T / best, loss0, loss))
    print("RESULT tokens_per_s %.1f" % (B * T / best))
    print("RESULT tokens_per_cpu_s %.1f" % (B * T / best_cpu))


if __name__ == "__main__":
    main()

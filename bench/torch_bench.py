#!/usr/bin/python3
"""torch_bench.py -- PyTorch 1.13 training the same one-block stage step the
C engine benchmarks (bench/bench_stage.c): frozen substrate E [V, D] ->
block 1 -> head, mean cross-entropy, backward, clip_grad_norm_ 1.0, AdamW
(wd on matrices only).  The model is tools/torch_ref.py's forward, so both
programs train exactly the model of docs/MODEL.md.

Usage: torch_bench.py [steps] [reps]   (prints best tokens/s over reps runs of
`steps` steps each, after one warm-up step; one thread)
"""
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import torch  # noqa: E402
import torch_ref as R  # noqa: E402

D, H, F, T, B, V = 256, 4, 1024, 256, 8, 5000


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
    g = torch.Generator().manual_seed(1)
    E = R.substrate(g, V, D)
    blocks, head = R.init_params(g, D, F, V, 1, scale=0.1)
    for p in list(blocks[0].values()) + list(head.values()):
        p.requires_grad_(True)
    named = list(blocks[0].items()) + list(head.items())
    params = [t for _, t in named]
    opt = torch.optim.AdamW(
        [{"params": [t for n, t in named if R.decays(n)], "weight_decay": 0.1},
         {"params": [t for n, t in named if not R.decays(n)], "weight_decay": 0.0}],
        lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    tokens = torch.randint(0, V, (B, T + 1), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        _, loss = R.forward(tokens, E, blocks, head, H, 1e-5, 10000.0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    loss0 = step()  # warm-up
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step()
        best = min(best, (time.perf_counter() - t0) / steps)
    print("# torch %s, threads %d, openblas_get_corename() = %s"
          % (torch.__version__, torch.get_num_threads(), openblas_core()))
    print("torch stage step: %.4f s/step (best of %d x %d steps), %.0f tokens/s, loss %.4f -> %.4f"
          % (best, reps, steps, B * T / best, loss0, loss))
    print("RESULT tokens_per_s %.1f" % (B * T / best))


if __name__ == "__main__":
    main()

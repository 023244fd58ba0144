#!/usr/bin/python3
"""torch_ref.py -- independent PyTorch reference for the strata model.

Written from docs/MODEL.md only (plain torch ops, no nn.Module layers), so a
bug shared with the C engine (src/nn) would have to be written twice.  It
builds a 2-block model with fixed, seeded weights and writes the expected
values the C test tests/ref/test_model_ref.c compares against.

Run (deterministic; needs Debian's python3-torch and python3-h5py):

    /usr/bin/python3 tools/torch_ref.py tests/fixtures/model_ref.h5

Weights are drawn larger than the training init (matrices normal(0, c/sqrt(in)),
gains 1 + 0.1 normal) so activations are O(1) and every path (attention
pattern, RoPE, GELU curvature, every norm gain) moves the result.  Parameters
are float32 (what the engine stores); every expected value is computed in
float64 from those float32 numbers.

Fixture layout (HDF5; names of parameters follow docs/MODEL.md):

  /                              attributes: format="strata-ref-fixture",
                                 format_version=1, V, D, H, F, T, B, L (int),
                                 eps, theta (float64), seed,
                                 lora_rank, lora_alpha, lora_block (=0),
                                 adamw_steps, adamw_lr, adamw_wd, adamw_beta1,
                                 adamw_beta2, adamw_eps, adamw_clip
  /tokens                        int32   [B, T+1]   inputs tok[:, 0:T], targets tok[:, 1:T+1]
  /substrate/embeddings          float32 [V, D]     frozen E (rows L2-normalised)
  /params/block_NNN/<name>       float32            ln1_g [D], attn_qkv_w [3D, D],
                                                    attn_out_w [D, D], ln2_g [D],
                                                    mlp_in_w [F, D], mlp_out_w [D, F]
  /params/head/norm_g            float32 [D]
  /params/head/out_w             float32 [V, D]

  Case "full": all blocks + head trainable, head after block L.
  /expected/logits               float64 [B, T, V]
  /expected/loss                 float64 scalar     mean nats/token over B*T
  /expected/grads/block_NNN/<name>, /expected/grads/head/<name>
                                 float64            d loss / d param (same shapes)

  Case "depth1": the head applied after block 1 (block_000; logit lens).
  /expected/depth1/logits        float64 [B, T, V]
  /expected/depth1/loss          float64 scalar
  /expected/depth1/grads/block_000/<name>, /expected/depth1/grads/head/<name>
                                 float64            stage-1 training: block_000 + head

  Case "lora": block_000 frozen, with LoRA (rank r, scale s = alpha / r) on its
  attn_qkv_w, attn_out_w, mlp_in_w, mlp_out_w; block_001 + head trainable.
  /lora/params/block_000/<matrix>.lora_A   float32 [r, in]   normal(0, 1/sqrt(in))
  /lora/params/block_000/<matrix>.lora_B   float32 [out, r]  normal(0, 0.5/sqrt(r)), nonzero
  /lora/expected/logits          float64 [B, T, V]
  /lora/expected/loss            float64 scalar
  /lora/expected/grads/block_000/<matrix>.lora_A|lora_B   float64
  /lora/expected/grads/block_001/<name>, /lora/expected/grads/head/<name>  float64

  Case "adamw": the "full" model trained for adamw_steps steps on the same
  batch with torch.optim.AdamW (weight decay on matrices only, never on norm
  gains; constant lr; step t starts at 1) after
  torch.nn.utils.clip_grad_norm_(all trainable, adamw_clip).
  /adamw/losses                  float64 [adamw_steps]  loss of the forward of step s
                                                        (losses[0] = /expected/loss)
  /adamw/loss_after              float64 scalar         loss after the last update

The functions below (forward, param_shapes, init_params) are also used by
bench/torch_bench.py, so the benchmark trains exactly this model.
"""
import math
import sys

import torch

BLOCK_PARAMS = ("ln1_g", "attn_qkv_w", "attn_out_w", "ln2_g", "mlp_in_w", "mlp_out_w")
HEAD_PARAMS = ("norm_g", "out_w")
LORA_MATRICES = ("attn_qkv_w", "attn_out_w", "mlp_in_w", "mlp_out_w")

CFG = dict(V=67, D=32, H=4, F=48, T=12, B=3, L=2, eps=1e-5, theta=10000.0, seed=20261129)
LORA = dict(rank=2, alpha=4.0, block=0)
ADAMW = dict(steps=10, lr=1e-2, wd=0.1, beta1=0.9, beta2=0.95, eps=1e-8, clip=1.0)


def block_name(l):
    return "block_%03d" % l


def param_shapes(D, F, V):
    """Shapes of one block's and the head's parameters ([out, in] matrices)."""
    block = {"ln1_g": (D,), "attn_qkv_w": (3 * D, D), "attn_out_w": (D, D),
             "ln2_g": (D,), "mlp_in_w": (F, D), "mlp_out_w": (D, F)}
    head = {"norm_g": (D,), "out_w": (V, D)}
    return block, head


def decays(name):
    """Weight decay applies to matrices, never to norm gains (docs/MODEL.md)."""
    return name.endswith("_w")


# ---------------------------------------------------------------------------
# The model, from docs/MODEL.md
# ---------------------------------------------------------------------------
def rmsnorm(x, g, eps):
    # x [..., D], g [D]
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps) * g


def rope(x, theta):
    # x [B, T, H, hd]; interleaved pairs (2i, 2i+1) inside each head, position t
    B, T, H, hd = x.shape
    i = torch.arange(hd // 2, dtype=torch.float64)
    f = theta ** (-2.0 * i / hd)                                   # [hd/2]
    a = torch.arange(T, dtype=torch.float64)[:, None] * f[None, :]  # [T, hd/2]
    cos = torch.cos(a).to(x.dtype)[None, :, None, :]
    sin = torch.sin(a).to(x.dtype)[None, :, None, :]
    x0 = x[..., 0::2]                                               # [B, T, H, hd/2]
    x1 = x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack((y0, y1), dim=-1).reshape(B, T, H, hd)


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def linear(x, w, lora=None):
    # x [..., in], w [out, in]; lora = (A [r, in], B [out, r], s)
    y = x @ w.t()
    if lora is not None:
        A, Bm, s = lora
        y = y + s * ((x @ A.t()) @ Bm.t())
    return y


def attention(q, k, v):
    # q, k, v [B, T, H, hd] -> [B, T, H*hd]
    B, T, H, hd = q.shape
    q = q.permute(0, 2, 1, 3)                                      # [B, H, T, hd]
    k = k.permute(0, 2, 1, 3)
    v = v.permute(0, 2, 1, 3)
    s = q @ k.transpose(-1, -2) / math.sqrt(hd)                     # [B, H, T, T]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    s = s.masked_fill(mask, float("-inf"))
    p = torch.softmax(s, dim=-1)
    o = p @ v                                                       # [B, H, T, hd]
    return o.permute(0, 2, 1, 3).reshape(B, T, H * hd)


def block_forward(x, p, H, eps, theta, lora=None):
    # x [B, T, D]; p: dict of this block's tensors; lora: dict matrix -> (A, B, s)
    lora = lora or {}
    B, T, D = x.shape
    hd = D // H
    a = rmsnorm(x, p["ln1_g"], eps)
    qkv = linear(a, p["attn_qkv_w"], lora.get("attn_qkv_w"))        # [B, T, 3D]
    q = rope(qkv[..., 0:D].reshape(B, T, H, hd), theta)
    k = rope(qkv[..., D:2 * D].reshape(B, T, H, hd), theta)
    v = qkv[..., 2 * D:3 * D].reshape(B, T, H, hd)
    x = x + linear(attention(q, k, v), p["attn_out_w"], lora.get("attn_out_w"))
    m = rmsnorm(x, p["ln2_g"], eps)
    h = gelu(linear(m, p["mlp_in_w"], lora.get("mlp_in_w")))       # [B, T, F]
    return x + linear(h, p["mlp_out_w"], lora.get("mlp_out_w"))


def forward(tokens, E, blocks, head, H, eps, theta, depth=None, loras=None):
    """tokens [B, T+1] int64, E [V, D]; blocks: list of dicts; head: dict.
    Returns (logits [B, T, V], mean cross-entropy)."""
    depth = len(blocks) if depth is None else depth
    loras = loras or {}
    x = E[tokens[:, :-1]]                                           # [B, T, D]
    for l in range(depth):
        x = block_forward(x, blocks[l], H, eps, theta, loras.get(l))
    logits = rmsnorm(x, head["norm_g"], eps) @ head["out_w"].t()    # [B, T, V]
    logp = torch.log_softmax(logits, dim=-1)
    tgt = tokens[:, 1:]
    loss = -logp.gather(-1, tgt.unsqueeze(-1)).mean()
    return logits, loss


# ---------------------------------------------------------------------------
# Fixed weights
# ---------------------------------------------------------------------------
def init_params(g, D, F, V, L, scale=1.0):
    """float32 blocks [dict] and head dict, drawn with generator g."""
    bshape, hshape = param_shapes(D, F, V)

    def mat(shape, c):
        return torch.randn(shape, generator=g, dtype=torch.float64).mul(c / math.sqrt(shape[1])).float()

    def gain(shape):
        return (1.0 + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)).float()

    blocks = []
    for _ in range(L):
        blocks.append({
            "ln1_g": gain(bshape["ln1_g"]),
            "attn_qkv_w": mat(bshape["attn_qkv_w"], 1.0 * scale),  # attention logits O(1)
            "attn_out_w": mat(bshape["attn_out_w"], 0.5 * scale),
            "ln2_g": gain(bshape["ln2_g"]),
            "mlp_in_w": mat(bshape["mlp_in_w"], 1.0 * scale),      # GELU inputs O(1)
            "mlp_out_w": mat(bshape["mlp_out_w"], 0.5 * scale),
        })
    head = {"norm_g": gain(hshape["norm_g"]), "out_w": mat(hshape["out_w"], 1.0 * scale)}
    return blocks, head


def substrate(g, V, D):
    E = torch.randn(V, D, generator=g, dtype=torch.float64)
    return (E / E.norm(dim=1, keepdim=True)).float()


# ---------------------------------------------------------------------------
# Expected values
# ---------------------------------------------------------------------------
def to64(d, requires_grad):
    return {k: v.double().clone().requires_grad_(requires_grad) for k, v in d.items()}


def run_case(tokens, E, blocks32, head32, c, trainable_blocks, depth=None, lora32=None):
    """Forward + backward in float64.  Returns logits, loss and the gradients
    {group: {name: grad}} of the trainable tensors."""
    blocks = [to64(b, l in trainable_blocks) for l, b in enumerate(blocks32)]
    head = to64(head32, True)
    loras, lora_t = {}, {}
    if lora32 is not None:
        l = LORA["block"]
        s = LORA["alpha"] / LORA["rank"]
        lora_t = to64(lora32, True)
        loras[l] = {m: (lora_t[m + ".lora_A"], lora_t[m + ".lora_B"], s) for m in LORA_MATRICES}
    logits, loss = forward(tokens, E.double(), blocks, head, c["H"], c["eps"], c["theta"],
                           depth=depth, loras=loras)
    loss.backward()
    grads = {}
    for l in trainable_blocks:
        grads[block_name(l)] = {k: v.grad for k, v in blocks[l].items()}
    grads["head"] = {k: v.grad for k, v in head.items()}
    if lora32 is not None:
        grads[block_name(LORA["block"])] = {k: v.grad for k, v in lora_t.items()}
    return logits.detach(), loss.detach(), grads


def run_adamw(tokens, E, blocks32, head32, c):
    blocks = [to64(b, True) for b in blocks32]
    head = to64(head32, True)
    named = [(n, t) for b in blocks for n, t in b.items()] + list(head.items())
    groups = [{"params": [t for n, t in named if decays(n)], "weight_decay": ADAMW["wd"]},
              {"params": [t for n, t in named if not decays(n)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=ADAMW["lr"], betas=(ADAMW["beta1"], ADAMW["beta2"]),
                            eps=ADAMW["eps"])
    params = [t for _, t in named]
    losses = []
    for _ in range(ADAMW["steps"]):
        opt.zero_grad()
        _, loss = forward(tokens, E.double(), blocks, head, c["H"], c["eps"], c["theta"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, ADAMW["clip"])
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        _, loss = forward(tokens, E.double(), blocks, head, c["H"], c["eps"], c["theta"])
    return torch.tensor(losses, dtype=torch.float64), loss.item()


def write_grads(f, prefix, grads):
    for group, d in grads.items():
        for name, t in d.items():
            f[prefix + "/" + group + "/" + name] = t.numpy()


def main(path):
    import h5py
    import numpy as np

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    c = CFG
    g = torch.Generator().manual_seed(c["seed"])
    V, D, F, L, B, T = c["V"], c["D"], c["F"], c["L"], c["B"], c["T"]
    tokens = torch.randint(0, V, (B, T + 1), generator=g, dtype=torch.int64)
    E = substrate(g, V, D)
    blocks, head = init_params(g, D, F, V, L)

    r = LORA["rank"]
    bshape, _ = param_shapes(D, F, V)
    lora = {}
    for m in LORA_MATRICES:
        out, inn = bshape[m]
        lora[m + ".lora_A"] = (torch.randn(r, inn, generator=g, dtype=torch.float64)
                               / math.sqrt(inn)).float()
        lora[m + ".lora_B"] = (torch.randn(out, r, generator=g, dtype=torch.float64)
                               * 0.5 / math.sqrt(r)).float()

    full = run_case(tokens, E, blocks, head, c, trainable_blocks=range(L))
    d1 = run_case(tokens, E, blocks, head, c, trainable_blocks=[0], depth=1)
    lo = run_case(tokens, E, blocks, head, c, trainable_blocks=range(1, L), lora32=lora)
    losses, loss_after = run_adamw(tokens, E, blocks, head, c)

    with h5py.File(path, "w") as f:
        f.attrs["format"] = "strata-ref-fixture"
        f.attrs["format_version"] = np.int32(1)
        for k in ("V", "D", "H", "F", "T", "B", "L"):
            f.attrs[k] = np.int32(c[k])
        f.attrs["eps"] = np.float64(c["eps"])
        f.attrs["theta"] = np.float64(c["theta"])
        f.attrs["seed"] = np.int64(c["seed"])
        f.attrs["lora_rank"] = np.int32(LORA["rank"])
        f.attrs["lora_alpha"] = np.float64(LORA["alpha"])
        f.attrs["lora_block"] = np.int32(LORA["block"])
        f.attrs["adamw_steps"] = np.int32(ADAMW["steps"])
        for k in ("lr", "wd", "beta1", "beta2", "eps", "clip"):
            f.attrs["adamw_" + k] = np.float64(ADAMW[k])
        f["tokens"] = tokens.numpy().astype(np.int32)
        f["substrate/embeddings"] = E.numpy()
        for l, b in enumerate(blocks):
            for n, t in b.items():
                f["params/%s/%s" % (block_name(l), n)] = t.numpy()
        for n, t in head.items():
            f["params/head/" + n] = t.numpy()
        for prefix, (logits, loss, grads) in (("expected", full), ("expected/depth1", d1),
                                              ("lora/expected", lo)):
            f[prefix + "/logits"] = logits.numpy()
            f[prefix + "/loss"] = np.float64(loss.item())
            write_grads(f, prefix + "/grads", grads)
        for n, t in lora.items():
            f["lora/params/block_000/" + n] = t.numpy()
        f["adamw/losses"] = losses.numpy()
        f["adamw/loss_after"] = np.float64(loss_after)
    print("wrote %s: loss %.6f, depth-1 loss %.6f, lora loss %.6f, adamw %.6f -> %.6f"
          % (path, full[1].item(), d1[1].item(), lo[1].item(), losses[0].item(), loss_after))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: torch_ref.py OUT.h5")
    main(sys.argv[1])

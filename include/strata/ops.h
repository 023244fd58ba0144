/* ops.h -- forward/backward kernels of the strata transformer (float, OpenBLAS).
 *
 * Shapes are in comments; activations are row-major [N, width].  Every
 * backward function ADDS into the gradients it writes (dW, dg, dx), so the
 * caller zeroes them once and can sum contributions (residual branches, LoRA
 * paths).  Buffers passed as outputs of a forward must not alias inputs unless
 * stated.  The naive reference versions (suffix _naive) exist for the tests.
 */
#ifndef STRATA_OPS_H
#define STRATA_OPS_H

#include <stddef.h>
#include <stdint.h>

/* y [N, out] (=, or += when beta = 1) alpha * x [N, in] @ W[out, in]^T */
void op_matmul_forward(float *y, const float *x, const float *W, int N, int in, int out,
                       float alpha, float beta);
/* dx [N, in] += alpha * dy [N, out] @ W [out, in]   (skipped if dx == NULL)
 * dW [out, in] += alpha * dy^T @ x                   (skipped if dW == NULL) */
void op_matmul_backward(float *dx, float *dW, const float *dy, const float *x, const float *W,
                        int N, int in, int out, float alpha);
/* Naive triple loop of op_matmul_forward in double accumulation. */
void op_matmul_forward_naive(float *y, const float *x, const float *W, int N, int in, int out,
                             float alpha, float beta);

/* y [N, D] = x / sqrt(mean(x^2) + eps) * g ; rstd [N] = 1/sqrt(mean(x^2)+eps). y may alias x. */
void op_rmsnorm_forward(float *y, float *rstd, const float *x, const float *g, int N, int D, float eps);
/* dx [N, D] += d/dx, dg [D] += d/dg (either may be NULL) from dy [N, D]. */
void op_rmsnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *rstd,
                         const float *g, int N, int D);

/* RoPE tables: cos/sin [T, hd/2] of t * theta^(-2i/hd) (computed in double). */
void op_rope_tables(float *cosb, float *sinb, int T, int hd, double theta);
/* Rotate in place the interleaved pairs of every head of x: rows n = b*T + t
 * (position t), row stride ld, D = H*hd columns starting at x.  inverse = 1
 * rotates by -angle (the backward of the forward rotation). */
void op_rope_apply(float *x, int B, int T, int ld, int H, int hd, const float *cosb,
                   const float *sinb, int inverse);

/* Causal self-attention over qkv [B*T, 3D] (q | k | v, heads of hd = D/H).
 * att [B, H, T, T]: softmax probabilities (row t has zeros after column t).
 * o [B*T, D]: concat_h softmax(q_h k_h^T / sqrt(hd) + mask) v_h. */
void op_attention_forward(float *o, float *att, const float *qkv, int B, int T, int H, int hd);
/* dqkv [B*T, 3D] += gradient from do [B*T, D]; dp [T, T] scratch. */
void op_attention_backward(float *dqkv, float *dp, const float *dout, const float *qkv,
                           const float *att, int B, int T, int H, int hd);
/* Naive reference (double accumulation) of op_attention_forward. */
void op_attention_forward_naive(float *o, const float *qkv, int B, int T, int H, int hd);

/* y [n] = gelu(x) exact (erf).  y may alias x. */
void op_gelu_forward(float *y, const float *x, size_t n);
/* dx [n] += dy * gelu'(x) */
void op_gelu_backward(float *dx, const float *dy, const float *x, size_t n);
/* Same with dx = dy * gelu'(x) (overwrite; dx may alias dy). */
void op_gelu_backward_set(float *dx, const float *dy, const float *x, size_t n);

/* y [n] = a + b (y may alias a).  Backward: the gradient passes to both. */
void op_residual_forward(float *y, const float *a, const float *b, size_t n);
void op_residual_backward(float *da, float *db, const float *dy, size_t n);

/* Cross-entropy over logits [N, V] with targets (row n's target at
 * targets[(n / T) * ld + n % T]).  lse [N] = logsumexp of each row.
 * Returns the SUM of -log softmax[target] over rows (double). */
double op_xent_forward(float *lse, const float *logits, const int32_t *targets, int N, int T, int ld,
                       int V);
/* dlogits [N, V] = scale * (softmax(logits) - onehot(target)); may alias logits. */
void op_xent_backward(float *dlogits, const float *logits, const float *lse, const int32_t *targets,
                      int N, int T, int ld, int V, float scale);
/* Forward and backward in one pass over the logits (each row is read once
 * from memory and then worked on in cache): returns the summed loss like
 * op_xent_forward, fills lse, counts argmax hits into *correct (if not NULL)
 * and OVERWRITES logits with scale * (softmax - onehot). */
double op_xent_fused(float *logits, float *lse, const int32_t *targets, int N, int T, int ld, int V,
                     float scale, long *correct);

#endif

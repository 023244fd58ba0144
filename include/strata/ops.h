/* ops.h -- forward/backward kernels of the strata transformer (float32
 * activations; matrix products in float32 via OpenBLAS or bfloat16 via oneDNN).
 *
 * Shapes are in comments; activations are row-major [N, width].  Every
 * backward function ADDS into the gradients it writes (dW, dg, dx), so the
 * caller zeroes them once and can sum contributions (residual branches, LoRA
 * paths).  Buffers passed as outputs of a forward must not alias inputs unless
 * stated.  The naive reference versions (suffix _naive) exist for the tests.
 */
#ifndef STRATA_OPS_H
#define STRATA_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Matrix products (src/nn/gemm.c) -----------------------------------
 * Every matrix product of nn goes through op_gemm / op_linear_backward.
 * The precision is process-wide: OP_FP32 (the default) is OpenBLAS's
 * cblas_sgemm with exactly the arguments given (results bitwise as a direct
 * call); OP_BF16 rounds the operands to bfloat16 and runs oneDNN's matmul
 * with fp32 accumulation and fp32 output (train.precision = bfloat16, set
 * by grow at start; docs/MODEL.md "Precision").  Not thread-safe: the bf16
 * path keeps its scratch copies and primitives in process-wide caches. */
typedef enum op_precision { OP_FP32 = 0, OP_BF16 = 1 } op_precision;
/* NULL when bf16 products can run here (built with oneDNN, and oneDNN sees
 * AVX512_BF16 or AMX), else why not, as a phrase for an error message. */
const char *op_bf16_unavailable(void);
/* Switch the process to precision p: 0, or -1 (nothing changed) when p is
 * OP_BF16 and op_bf16_unavailable() says why not. */
int op_precision_set(op_precision p);
op_precision op_precision_get(void);
/* f rounded to the nearest bfloat16 (ties to even), as a float (tests). */
float op_bf16_round(float f);
/* C [M, N] (row stride ldc) = alpha op(A) op(B) + beta C, row-major;
 * op(A) [M, K] is A (row stride lda) or, when ta, A^T of A [K, M]; the same
 * for B [K, N] with tb.  C must not alias A or B. */
void op_gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);
/* Backward of y = x W^T: dW [out, in] += alpha dy^T x (skipped if dW is
 * NULL), then dx [N, in] = alpha dy W + dx_beta dx (skipped if dx is NULL).
 * dx may alias x (dW is done first).  In bf16, dy is rounded once for both. */
void op_linear_backward(float *dx, float dx_beta, float *dW, const float *dy, const float *x,
                        const float *W, int N, int in, int out, float alpha);
/* The same, with dy16 [N, out] = dy already rounded to bfloat16 (or NULL):
 * the bf16 path multiplies dy16 instead of rounding dy itself; float32
 * ignores it.  dy may be NULL when dy16 is given (op_xent_fused wrote only
 * the bf16 gradient): products that must run in float32 (float32
 * precision, or oneDNN failing) then use dy16 widened, tile by tile. */
void op_linear_backward_dy16(float *dx, float dx_beta, float *dW, const float *dy,
                             const uint16_t *dy16, const float *x, const float *W, int N, int in,
                             int out, float alpha);

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
/* Query-key pairs each of the attention's products computes per sequence
 * and head: the causal blocks, 3/4 of T x T (what FLOP counts as computed
 * use; grow.c). */
double op_attention_pairs(int T);
/* dqkv [B*T, 3D] = gradient from do [B*T, D] (overwritten: each of the
 * causal blocks' products writes its own rows of dq, dk and dv once, so no
 * zeroing pass is needed); dp [T, T] scratch. */
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
 * from memory and then worked on in cache; one exp per logit): returns the
 * summed loss like op_xent_forward, fills lse, counts argmax hits into
 * *correct (if not NULL) and OVERWRITES logits with scale * (softmax -
 * onehot).  With dlogits16 [N, V] (not NULL) the gradient goes there
 * instead, rounded to bfloat16 (op_bf16_round's bits of the float32
 * result), and logits is left unspecified: the bf16 head backward
 * (op_linear_backward_dy16) reads half the bytes and no float32 copy is
 * written or converted. */
double op_xent_fused(float *logits, float *lse, const int32_t *targets, int N, int T, int ld, int V,
                     float scale, long *correct, uint16_t *dlogits16);

#endif

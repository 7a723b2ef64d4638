#!/usr/bin/python3
"""Float64 NumPy reference of the deepseek2 forward pass, written from
../shared/docs/reference/deepseek-arch.md (not from Frugal's C++).

Reads a deepseek2 GGUF (F32/F16/BF16/Q8_0 tensors) and computes logits [n_tokens, vocab] for a
token list at positions 0..n-1 with the naive (expanded) MLA.

  /usr/bin/python3 deepseek2_ref.py MODEL.gguf --tokens 1,2,3 [--out ref.npy] [--compare x.npy]
"""
import argparse
import math
import sys

import numpy as np

from gguf_read import Gguf

ARCH = "deepseek2"


class Config:
    def __init__(self, g):
        m = lambda k, d=None: g.meta.get(ARCH + "." + k, d)
        self.n_layer = m("block_count")
        self.dim = m("embedding_length")
        self.n_head = m("attention.head_count")
        self.q_lora = m("attention.q_lora_rank", 0)
        self.kv_lora = m("attention.kv_lora_rank")
        self.d_r = m("rope.dimension_count")
        key_mla = m("attention.key_length_mla")
        self.d_n = (key_mla if key_mla else m("attention.key_length")) - self.d_r
        self.d_v = m("attention.value_length_mla") or m("attention.value_length")
        self.eps = m("attention.layer_norm_rms_epsilon")
        self.theta = m("rope.freq_base", 10000.0)
        self.n_dense = m("leading_dense_block_count", 0)
        self.n_expert = m("expert_count", 0)
        self.n_used = m("expert_used_count", 0)
        self.gating = m("expert_gating_func", 1)  # 1 softmax, 2 sigmoid
        self.norm_w = m("expert_weights_norm", False)
        self.scale_w = m("expert_weights_scale", 1.0)
        self.n_group = m("expert_group_count", 1)
        self.topk_group = m("expert_group_used_count", 1)
        self.ctx = m("context_length")
        self.yarn = (m("rope.scaling.type") == "yarn" and m("rope.scaling.factor", 1.0) > 1.0
                     and self.ctx > m("rope.scaling.original_context_length", self.ctx))
        self.factor = m("rope.scaling.factor", 1.0)
        self.orig_ctx = m("rope.scaling.original_context_length", 0)
        self.log_mul = m("rope.scaling.yarn_log_multiplier", 0.0)
        self.beta_fast = m("rope.scaling.yarn_beta_fast", 32.0)
        self.beta_slow = m("rope.scaling.yarn_beta_slow", 1.0)


def rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def rope_freqs(c):
    i = np.arange(c.d_r // 2, dtype=np.float64)
    f = c.theta ** (-2.0 * i / c.d_r)
    if not c.yarn:
        return f
    corr = lambda n_rot: c.d_r * math.log(c.orig_ctx / (n_rot * 2 * math.pi)) / (2 * math.log(c.theta))
    low = max(math.floor(corr(c.beta_fast)), 0)
    high = min(math.ceil(corr(c.beta_slow)), c.d_r - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((i - low) / (high - low), 0.0, 1.0)
    smooth = 1.0 - ramp
    return f / c.factor * (1.0 - smooth) + f * smooth


def rope(x, pos, freqs):
    """x [..., n, d_r] with adjacent pairs (x[2i], x[2i+1]) rotated by pos * freqs[i]."""
    ang = pos[:, None] * freqs[None, :]  # [n, d_r/2]
    cos, sin = np.cos(ang), np.sin(ang)
    a, b = x[..., 0::2], x[..., 1::2]
    y = np.empty_like(x)
    y[..., 0::2] = a * cos - b * sin
    y[..., 1::2] = a * sin + b * cos
    return y


def softmax_scale(c):
    s = (c.d_n + c.d_r) ** -0.5
    if c.yarn:
        m = 1.0 + c.log_mul * math.log(c.factor)
        s *= m * m
    return s


def mla(g, c, l, x, pos):
    """x [n, dim] normalized input -> [n, dim]; naive (expanded) attention, causal."""
    p = "blk.%d." % l
    n = x.shape[0]
    if c.q_lora:
        q = rmsnorm(x @ g.tensor(p + "attn_q_a.weight").T, g.tensor(p + "attn_q_a_norm.weight"), c.eps)
        q = q @ g.tensor(p + "attn_q_b.weight").T
    else:
        q = x @ g.tensor(p + "attn_q.weight").T
    q = q.reshape(n, c.n_head, c.d_n + c.d_r)
    q_nope, q_pe = q[..., :c.d_n], q[..., c.d_n:]
    kv = x @ g.tensor(p + "attn_kv_a_mqa.weight").T
    latent = rmsnorm(kv[:, :c.kv_lora], g.tensor(p + "attn_kv_a_norm.weight"), c.eps)
    k_pe = kv[:, c.kv_lora:]
    freqs = rope_freqs(c)
    q_pe = rope(q_pe.transpose(1, 0, 2), pos, freqs).transpose(1, 0, 2)
    k_pe = rope(k_pe, pos, freqs)
    if p + "attn_kv_b.weight" in g.infos:
        wkv_b = g.tensor(p + "attn_kv_b.weight").reshape(c.n_head, c.d_n + c.d_v, c.kv_lora)
        w_uk, w_uv = wkv_b[:, :c.d_n, :], wkv_b[:, c.d_n:, :]
    else:
        w_uk = g.tensor(p + "attn_k_b.weight").transpose(0, 2, 1)  # [H, r_kv, d_n] -> [H, d_n, r_kv]
        w_uv = g.tensor(p + "attn_v_b.weight")                       # [H, d_v, r_kv]
    k_nope = np.einsum("hdc,tc->thd", w_uk, latent)
    v = np.einsum("hdc,tc->thd", w_uv, latent)
    scores = (np.einsum("shd,thd->hst", q_nope, k_nope) + np.einsum("shd,td->hst", q_pe, k_pe))
    scores = scores * softmax_scale(c)
    mask = pos[None, :] > pos[:, None]
    scores = np.where(mask[None], -np.inf, scores)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    probs = scores / scores.sum(-1, keepdims=True)
    o = np.einsum("hst,thd->shd", probs, v).reshape(n, c.n_head * c.d_v)
    return o @ g.tensor(p + "attn_output.weight").T


def mlp(x, gate, up, down):
    return (silu(x @ gate.T) * (x @ up.T)) @ down.T


def route(c, logits, bias):
    """logits [n_expert] -> (indices, weights) of the chosen experts."""
    s = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum() if c.gating == 1 \
        else 1.0 / (1.0 + np.exp(-logits))
    sel = s + bias if bias is not None else s.copy()
    if c.n_group > 1:
        grp = sel.reshape(c.n_group, -1)
        gs = np.sort(grp, axis=1)[:, -2:].sum(1) if bias is not None else grp.max(1)
        keep = np.argsort(-gs, kind="stable")[:c.topk_group]
        gmask = np.ones(c.n_group, bool)
        gmask[keep] = False
        sel = np.where(np.repeat(gmask, grp.shape[1]), -np.inf, sel)
    idx = np.argsort(-sel, kind="stable")[:c.n_used]
    w = s[idx]
    if c.norm_w:
        w = w / w.sum()
    return idx, w * c.scale_w


def moe(g, c, l, x, trace):
    p = "blk.%d." % l
    router = x @ g.tensor(p + "ffn_gate_inp.weight").T
    bias = g.tensor(p + "exp_probs_b.bias") if p + "exp_probs_b.bias" in g.infos else None
    gate, up, down = (g.tensor(p + n) for n in ("ffn_gate_exps.weight", "ffn_up_exps.weight",
                                                 "ffn_down_exps.weight"))
    out = mlp(x, g.tensor(p + "ffn_gate_shexp.weight"), g.tensor(p + "ffn_up_shexp.weight"),
              g.tensor(p + "ffn_down_shexp.weight"))
    idx_all = []
    for t in range(x.shape[0]):
        idx, w = route(c, router[t], bias)
        idx_all.append(idx)
        for e, we in zip(idx, w):
            out[t] += we * mlp(x[t], gate[e], up[e], down[e])
    trace.append(np.array(idx_all))
    return out


def forward(g, c, tokens, trace=None):
    trace = [] if trace is None else trace
    pos = np.arange(len(tokens), dtype=np.float64)
    h = g.tensor("token_embd.weight")[tokens]
    for l in range(c.n_layer):
        p = "blk.%d." % l
        h = h + mla(g, c, l, rmsnorm(h, g.tensor(p + "attn_norm.weight"), c.eps), pos)
        x = rmsnorm(h, g.tensor(p + "ffn_norm.weight"), c.eps)
        if l < c.n_dense:
            h = h + mlp(x, g.tensor(p + "ffn_gate.weight"), g.tensor(p + "ffn_up.weight"),
                        g.tensor(p + "ffn_down.weight"))
        else:
            h = h + moe(g, c, l, x, trace)
    return rmsnorm(h, g.tensor("output_norm.weight"), c.eps) @ g.tensor("output.weight").T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True, help="comma list, or a .npy file")
    ap.add_argument("--out")
    ap.add_argument("--compare", help=".npy logits to compare against")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    toks = np.load(a.tokens) if a.tokens.endswith(".npy") else np.array(
        [int(t) for t in a.tokens.split(",")])
    g = Gguf(a.model)
    if g.meta.get("general.architecture") != ARCH:
        sys.exit("not a deepseek2 model")
    logits = forward(g, Config(g), toks)
    if a.out:
        np.save(a.out, logits.astype(np.float32))
    if a.compare:
        other = np.load(a.compare)
        d = np.abs(other.astype(np.float64) - logits).max()
        same = (other.argmax(-1) == logits.argmax(-1)).all()
        print("max |dlogit| = %.3g, argmax %s" % (d, "same" if same else "DIFFERS"))
        sys.exit(0 if d <= a.tol and same else 1)


if __name__ == "__main__":
    main()

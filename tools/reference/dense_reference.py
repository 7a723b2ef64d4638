#!/usr/bin/python3
"""Float64 NumPy reference of the dense decoders behind the R1-Distill models: Qwen2
(R1-Distill-Qwen) and Llama (R1-Distill-Llama), written from the published architectures
(Hugging Face modeling_qwen2.py / modeling_llama.py semantics), independent of Frugal's C++.

  /usr/bin/python3 dense_reference.py MODEL.gguf --tokens 1,2,3 --out logits.npy
                   [--llama3 FACTOR,LOW,HIGH,ORIG_CTX]

Reads a GGUF (llama.cpp tensor names; F32/F16/BF16/Q8_0 via gguf_read.py) and runs one forward
pass over the tokens at positions 0..n-1, writing float64 logits [n_tokens, n_vocab].

The model is evaluated in the Hugging Face form:
  * llama GGUFs hold attn_q / attn_k rows permuted per head for adjacent-pair RoPE (llama.cpp's
    converter); they are permuted back (GGUF row 2j -> HF row j, 2j+1 -> j + head_dim/2) and
    RoPE is applied with rotate_half (pairs (j, j + head_dim/2)).
  * Llama-3 frequency scaling: with --llama3 the scaled inverse frequencies are computed here
    (transformers' llama3 rule) and, when the GGUF has rope_freqs.weight, checked against its
    divisors; without --llama3, rope_freqs.weight (if present) divides the base frequencies.
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_read import Gguf  # noqa: E402


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def llama3_inv_freq(inv_freq, factor, low_freq_factor, high_freq_factor, old_ctx):
    low_freq_wavelen = old_ctx / low_freq_factor
    high_freq_wavelen = old_ctx / high_freq_factor
    out = np.empty_like(inv_freq)
    for i, f in enumerate(inv_freq):
        wavelen = 2 * math.pi / f
        if wavelen < high_freq_wavelen:
            out[i] = f
        elif wavelen > low_freq_wavelen:
            out[i] = f / factor
        else:
            smooth = (old_ctx / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            out[i] = (1 - smooth) * f / factor + smooth * f
    return out


def unpermute_rows(w, n_heads):
    """llama.cpp's q/k permutation undone: [H, hd/2, 2, in] -> [H, 2, hd/2, in]."""
    rows, cols = w.shape
    hd = rows // n_heads
    return w.reshape(n_heads, hd // 2, 2, cols).transpose(0, 2, 1, 3).reshape(rows, cols)


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


class Model:
    def __init__(self, path, llama3):
        g = Gguf(path)
        self.g = g
        arch = g.meta["general.architecture"]
        if arch not in ("qwen2", "llama"):
            raise SystemExit("%s: architecture %s is not qwen2 or llama" % (path, arch))
        self.arch = arch
        m = lambda k, d=None: g.meta.get(arch + "." + k, d)  # noqa: E731
        self.dim = m("embedding_length")
        self.n_layers = m("block_count")
        self.n_heads = m("attention.head_count")
        self.n_kv = m("attention.head_count_kv", self.n_heads)
        self.hd = m("attention.key_length", self.dim // self.n_heads)
        self.eps = m("attention.layer_norm_rms_epsilon", 1e-6)
        theta = m("rope.freq_base", 10000.0)
        inv_freq = theta ** (-np.arange(0, self.hd, 2, dtype=np.float64) / self.hd)
        has_freqs = "rope_freqs.weight" in g.infos
        if llama3 is not None:
            scaled = llama3_inv_freq(inv_freq, *llama3)
            if has_freqs:
                div = g.tensor("rope_freqs.weight")
                if not np.allclose(inv_freq / div, scaled, rtol=1e-6, atol=0):
                    raise SystemExit("rope_freqs.weight does not match the llama3 parameters %s" % (llama3,))
            inv_freq = scaled
        elif has_freqs:
            inv_freq = inv_freq / g.tensor("rope_freqs.weight")
        self.inv_freq = inv_freq

    def t(self, name):
        return self.g.tensor(name)

    def layer(self, l):
        p = "blk.%d." % l
        L = {k: self.t(p + k + ".weight") for k in
             ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")}
        for k in ("attn_q", "attn_k", "attn_v"):
            L[k + ".bias"] = self.t(p + k + ".bias") if (p + k + ".bias") in self.g.infos else None
        if self.arch == "llama":
            L["attn_q"] = unpermute_rows(L["attn_q"], self.n_heads)
            L["attn_k"] = unpermute_rows(L["attn_k"], self.n_kv)
        return L

    def attention(self, L, x, cos, sin):
        n = x.shape[0]
        H, Hk, hd = self.n_heads, self.n_kv, self.hd

        def proj(k):
            y = x @ L[k].T
            return y if L[k + ".bias"] is None else y + L[k + ".bias"]

        q = proj("attn_q").reshape(n, H, hd).transpose(1, 0, 2)    # [H, n, hd]
        k = proj("attn_k").reshape(n, Hk, hd).transpose(1, 0, 2)   # [Hk, n, hd]
        v = proj("attn_v").reshape(n, Hk, hd).transpose(1, 0, 2)   # [Hk, n, hd]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = H // Hk
        k = np.repeat(k, rep, axis=0)  # repeat_kv: head h uses kv head h // rep
        v = np.repeat(v, rep, axis=0)
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(hd)  # [H, n, n]
        mask = np.triu(np.ones((n, n), dtype=bool), 1)
        scores = np.where(mask, -np.inf, scores)
        scores = scores - scores.max(axis=-1, keepdims=True)
        p = np.exp(scores)
        p = p / p.sum(axis=-1, keepdims=True)
        o = (p @ v).transpose(1, 0, 2).reshape(n, H * hd)
        return o @ L["attn_output"].T

    def forward(self, tokens):
        n = len(tokens)
        h = self.t("token_embd.weight")[tokens]  # [n, dim]
        pos = np.arange(n, dtype=np.float64)
        freqs = np.outer(pos, self.inv_freq)
        emb = np.concatenate([freqs, freqs], axis=-1)  # [n, hd]
        cos, sin = np.cos(emb), np.sin(emb)
        for l in range(self.n_layers):
            L = self.layer(l)
            h = h + self.attention(L, rms_norm(h, L["attn_norm"], self.eps), cos, sin)
            x = rms_norm(h, L["ffn_norm"], self.eps)
            h = h + (silu(x @ L["ffn_gate"].T) * (x @ L["ffn_up"].T)) @ L["ffn_down"].T
        h = rms_norm(h, self.t("output_norm.weight"), self.eps)
        out = self.t("output.weight") if "output.weight" in self.g.infos else self.t("token_embd.weight")
        return h @ out.T


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--llama3", help="FACTOR,LOW_FREQ_FACTOR,HIGH_FREQ_FACTOR,ORIGINAL_CTX")
    a = ap.parse_args()
    llama3 = None
    if a.llama3:
        f, lo, hi, ctx = a.llama3.split(",")
        llama3 = (float(f), float(lo), float(hi), float(ctx))
    tokens = [int(t) for t in a.tokens.split(",")]
    logits = Model(a.model, llama3).forward(tokens)
    np.save(a.out, logits)
    print("wrote %s %s" % (a.out, logits.shape))


if __name__ == "__main__":
    main()

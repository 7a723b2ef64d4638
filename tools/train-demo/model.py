"""A small DeepSeek-V3 in PyTorch, written from the math in
../../../shared/docs/reference/deepseek-arch.md and the DeepSeek-V3 technical report:

ModelArgs -> RMSNorm -> rope (YaRN, adjacent pairs) -> MLA (q_lora, decoupled RoPE key) ->
MLP / Gate (sigmoid + e_score_correction_bias + groups) -> MoE (routed + shared) -> Block ->
MTP (one next-token-prediction module) -> Transformer.

Training runs the naive (expanded) MLA; the inference engine uses the absorbed form, which is
the same function. The router bias is a buffer updated by the aux-loss-free rule, not by SGD.
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ModelArgs:
    vocab_size: int = 4096
    dim: int = 256
    n_layers: int = 4              # main blocks (the MTP block is extra)
    n_dense_layers: int = 1        # first_k_dense_replace
    inter_dim: int = 768           # dense MLP width
    moe_inter_dim: int = 128       # width of one expert
    n_routed_experts: int = 8
    n_shared_experts: int = 1
    n_activated_experts: int = 2   # top-k
    n_expert_groups: int = 4
    n_limited_groups: int = 2      # topk_group
    route_scale: float = 2.5       # routed_scaling_factor
    n_heads: int = 4
    q_lora_rank: int = 128
    kv_lora_rank: int = 64
    qk_nope_head_dim: int = 64
    qk_rope_head_dim: int = 32
    v_head_dim: int = 64
    max_seq_len: int = 1024        # context_length
    original_seq_len: int = 256    # YaRN original context
    rope_theta: float = 10000.0
    rope_factor: float = 4.0
    beta_fast: float = 32.0
    beta_slow: float = 1.0
    mscale: float = 1.0            # mscale_all_dim
    norm_eps: float = 1e-6
    n_mtp: int = 1                 # next-token-prediction modules

    def yarn(self):
        return self.rope_factor > 1 and self.max_seq_len > self.original_seq_len

    def to_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_freqs(a: ModelArgs):
    """Frequencies of the qk_rope_head_dim/2 pairs; YaRN blends f and f/factor (§2.4)."""
    d = a.qk_rope_head_dim
    f = a.rope_theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    if not a.yarn():
        return f

    def corr_dim(n_rot):
        return d * math.log(a.original_seq_len / (n_rot * 2 * math.pi)) / (2 * math.log(a.rope_theta))

    low = max(math.floor(corr_dim(a.beta_fast)), 0)
    high = min(math.ceil(corr_dim(a.beta_slow)), d - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(d // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
    smooth = 1 - ramp
    return f / a.rope_factor * (1 - smooth) + f * smooth


def rope_cos_sin(a: ModelArgs, n_pos):
    """cos, sin of the angles p * f_i for p < n_pos: [n_pos, d_r/2] each, float32."""
    angles = torch.outer(torch.arange(n_pos, dtype=torch.float64), rope_freqs(a)).float()
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):
    """Rotates adjacent pairs (x[2i], x[2i+1]) by angle i.  x: [B, T, H, d_r]; cos, sin: [T, d_r/2]."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


class MLA(nn.Module):
    """Multi-head latent attention with a low-rank query and one shared rope key."""

    def __init__(self, a: ModelArgs):
        super().__init__()
        self.a = a
        self.qk_head_dim = a.qk_nope_head_dim + a.qk_rope_head_dim
        self.wq_a = nn.Linear(a.dim, a.q_lora_rank, bias=False)          # [r_q, D]
        self.q_norm = RMSNorm(a.q_lora_rank, a.norm_eps)
        self.wq_b = nn.Linear(a.q_lora_rank, a.n_heads * self.qk_head_dim, bias=False)  # [H*(dn+dr), r_q]
        self.wkv_a = nn.Linear(a.dim, a.kv_lora_rank + a.qk_rope_head_dim, bias=False)  # [r_kv+dr, D]
        self.kv_norm = RMSNorm(a.kv_lora_rank, a.norm_eps)
        self.wkv_b = nn.Linear(a.kv_lora_rank, a.n_heads * (a.qk_nope_head_dim + a.v_head_dim),
                               bias=False)                                 # [H*(dn+dv), r_kv]
        self.wo = nn.Linear(a.n_heads * a.v_head_dim, a.dim, bias=False)  # [D, H*dv]
        self.softmax_scale = self.qk_head_dim ** -0.5
        if a.yarn():
            m = 0.1 * a.mscale * math.log(a.rope_factor) + 1.0
            self.softmax_scale *= m * m

    def forward(self, x, cos, sin, mask):
        a = self.a
        B, T, _ = x.shape
        q = self.wq_b(self.q_norm(self.wq_a(x))).view(B, T, a.n_heads, self.qk_head_dim)
        q_nope, q_pe = q.split([a.qk_nope_head_dim, a.qk_rope_head_dim], dim=-1)
        q_pe = apply_rope(q_pe, cos, sin)
        kv = self.wkv_a(x)
        kv_latent, k_pe = kv.split([a.kv_lora_rank, a.qk_rope_head_dim], dim=-1)
        k_pe = apply_rope(k_pe.unsqueeze(2), cos, sin)                    # [B, T, 1, dr]
        kv = self.wkv_b(self.kv_norm(kv_latent)).view(B, T, a.n_heads, a.qk_nope_head_dim + a.v_head_dim)
        k_nope, v = kv.split([a.qk_nope_head_dim, a.v_head_dim], dim=-1)
        q = torch.cat([q_nope, q_pe], dim=-1)                              # [B, T, H, dn+dr]
        k = torch.cat([k_nope, k_pe.expand(-1, -1, a.n_heads, -1)], dim=-1)
        scores = torch.einsum("bshd,bthd->bhst", q, k) * self.softmax_scale + mask
        p = scores.softmax(dim=-1)
        o = torch.einsum("bhst,bthd->bshd", p, v)                          # [B, T, H, dv]
        return self.wo(o.flatten(2))


class MLP(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x)  (w1 = gate, w3 = up, w2 = down)."""

    def __init__(self, dim, inter_dim):
        super().__init__()
        self.w1 = nn.Linear(dim, inter_dim, bias=False)
        self.w2 = nn.Linear(inter_dim, dim, bias=False)
        self.w3 = nn.Linear(dim, inter_dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Gate(nn.Module):
    """Sigmoid router with the aux-loss-free bias, group-limited (noaux_tc)."""

    def __init__(self, a: ModelArgs):
        super().__init__()
        self.a = a
        self.weight = nn.Parameter(torch.empty(a.n_routed_experts, a.dim))   # [E, D]
        self.register_buffer("bias", torch.zeros(a.n_routed_experts))       # e_score_correction_bias

    def forward(self, x):
        """x: [N, D] -> weights [N, k], indices [N, k], sigmoid scores [N, E]."""
        a = self.a
        scores = F.linear(x.float(), self.weight.float()).sigmoid()
        sel = scores.detach() + self.bias                                    # bias only chooses
        g = sel.view(-1, a.n_expert_groups, a.n_routed_experts // a.n_expert_groups)
        group_scores = g.topk(2, dim=-1)[0].sum(-1)                          # top-2 sum per group
        keep = group_scores.topk(a.n_limited_groups, dim=-1)[1]
        mask = torch.ones_like(group_scores, dtype=torch.bool).scatter_(1, keep, False)
        sel = g.masked_fill(mask.unsqueeze(-1), float("-inf")).flatten(1)
        indices = sel.topk(a.n_activated_experts, dim=-1)[1]
        weights = scores.gather(1, indices)
        weights = weights / weights.sum(-1, keepdim=True) * a.route_scale
        return weights, indices, scores


class MoE(nn.Module):
    def __init__(self, a: ModelArgs):
        super().__init__()
        self.a = a
        self.gate = Gate(a)
        self.experts = nn.ModuleList(MLP(a.dim, a.moe_inter_dim) for _ in range(a.n_routed_experts))
        self.shared_experts = MLP(a.dim, a.n_shared_experts * a.moe_inter_dim)
        self.load = None        # tokens per expert in the last forward (for the bias update)
        self.balance_loss = None

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        weights, indices, scores = self.gate(x)
        y = torch.zeros_like(x)
        counts = torch.bincount(indices.flatten(), minlength=self.a.n_routed_experts)
        for e in range(self.a.n_routed_experts):
            if counts[e] == 0:
                continue
            tok, slot = torch.where(indices == e)
            y.index_add_(0, tok, self.experts[e](x[tok]) * weights[tok, slot, None].to(x.dtype))
        self.load = counts.detach()
        if self.training:
            self.balance_loss = self.sequence_balance_loss(scores, indices, shape[0])
        return (y + self.shared_experts(x)).view(shape)

    def sequence_balance_loss(self, scores, indices, batch):
        """V3 report eq. 17-20: sum_i f_i P_i per sequence (weighted by alpha outside)."""
        a = self.a
        E, K = a.n_routed_experts, a.n_activated_experts
        s = scores.view(batch, -1, E)
        T = s.shape[1]
        p = (s / s.sum(-1, keepdim=True)).mean(1)                          # [B, E]
        hits = torch.zeros(batch, T * K, E, device=s.device)
        hits.scatter_(2, indices.view(batch, T * K, 1), 1.0)
        f = hits.sum(1) * E / (K * T)                                      # [B, E]
        return (f * p).sum(-1).mean()


class Block(nn.Module):
    def __init__(self, layer_id, a: ModelArgs):
        super().__init__()
        self.attn_norm = RMSNorm(a.dim, a.norm_eps)
        self.attn = MLA(a)
        self.ffn_norm = RMSNorm(a.dim, a.norm_eps)
        self.ffn = MLP(a.dim, a.inter_dim) if layer_id < a.n_dense_layers else MoE(a)

    def forward(self, x, cos, sin, mask):
        x = x + self.attn(self.attn_norm(x), cos, sin, mask)
        return x + self.ffn(self.ffn_norm(x))


class MTP(nn.Module):
    """One multi-token-prediction module: from the main model's hidden state h_i and the
    embedding of token t_{i+1}, predict t_{i+2}. Embedding and output head are the main
    model's (shared)."""

    def __init__(self, layer_id, a: ModelArgs):
        super().__init__()
        self.enorm = RMSNorm(a.dim, a.norm_eps)
        self.hnorm = RMSNorm(a.dim, a.norm_eps)
        self.eh_proj = nn.Linear(2 * a.dim, a.dim, bias=False)            # [D, 2D]: [emb ; hidden]
        self.block = Block(layer_id, a)
        self.norm = RMSNorm(a.dim, a.norm_eps)                             # shared_head.norm

    def forward(self, h, emb_next, cos, sin, mask):
        u = self.eh_proj(torch.cat([self.enorm(emb_next), self.hnorm(h)], dim=-1))
        return self.norm(self.block(u, cos, sin, mask))


class Transformer(nn.Module):
    def __init__(self, a: ModelArgs):
        super().__init__()
        self.a = a
        self.embed = nn.Embedding(a.vocab_size, a.dim)
        self.layers = nn.ModuleList(Block(i, a) for i in range(a.n_layers))
        self.norm = RMSNorm(a.dim, a.norm_eps)
        self.head = nn.Linear(a.dim, a.vocab_size, bias=False)
        self.mtp = nn.ModuleList(MTP(a.n_layers + k, a) for k in range(a.n_mtp))
        cos, sin = rope_cos_sin(a, a.max_seq_len)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self, std=0.02):
        out_std = std / math.sqrt(2 * (self.a.n_layers + self.a.n_mtp))
        for name, p in self.named_parameters():
            if p.dim() == 1:
                continue
            s = out_std if name.endswith(("wo.weight", "w2.weight")) else std
            nn.init.normal_(p, 0.0, s)

    def moe_layers(self):
        return [m for m in self.modules() if isinstance(m, MoE)]

    def hidden(self, tokens):
        """Main model: tokens [B, T] -> last block output h [B, T, D] (before the final norm)."""
        T = tokens.shape[1]
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        mask = torch.full((T, T), float("-inf"), device=tokens.device).triu_(1)
        h = self.embed(tokens)
        for layer in self.layers:
            h = layer(h, cos, sin, mask)
        return h

    def forward(self, tokens):
        """Logits of the main model: [B, T, V]."""
        return self.head(self.norm(self.hidden(tokens)))

    def mtp_logits(self, h, next_tokens, k=0):
        """MTP module k on hidden h [B, T, D] and tokens t_{i+1} [B, T] -> logits of t_{i+2}."""
        T = h.shape[1]
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        mask = torch.full((T, T), float("-inf"), device=h.device).triu_(1)
        return self.head(self.mtp[k](h, self.embed(next_tokens), cos, sin, mask))

    def losses(self, x):
        """x: [B, T + 2] token windows -> (main loss, MTP loss, balance loss)."""
        tokens, targets = x[:, :-2], x[:, 1:-1]
        h = self.hidden(tokens)
        V = self.a.vocab_size
        main = F.cross_entropy(self.head(self.norm(h)).view(-1, V), targets.reshape(-1))
        mtp = F.cross_entropy(self.mtp_logits(h, x[:, 1:-1]).view(-1, V), x[:, 2:].reshape(-1))
        bal = sum(m.balance_loss for m in self.moe_layers()) / len(self.moe_layers())
        return main, mtp, bal

    @torch.no_grad()
    def update_router_bias(self, gamma):
        """Aux-loss-free balancing: b_i += gamma * sign(mean load - load_i)."""
        for m in self.moe_layers():
            if m.load is None:
                continue
            load = m.load.float()
            m.gate.bias += gamma * torch.sign(load.mean() - load)

#!/usr/bin/python3
"""Exports the trained demo model as GGUF, in the form llama.cpp's converter writes for
deepseek2 (old single attn_kv_b form, F16 matrices, F32 norms / router / score bias), plus the
MTP module as blk.{n_layers}.* and blk.{n_layers}.nextn.*; then writes the goldens the C++ tests
check Frugal against, computed by the PyTorch model itself with the exported (F16-rounded)
weights:

    tests/model/data/demo_golden.json   prompts, their token ids, greedy continuations (ids, text)
    tests/model/data/demo_logits.npy    float32 [n_tokens, vocab]: main-model logits of one prompt
    tests/model/data/demo_mtp_logits.npy float32 [n_tokens - 1, vocab]: MTP logits of that prompt
                                        (row i: from h_i and token i+1, predicts token i+2)
    tests/model/data/demo_heldout.txt   held-out KJV chapters (perplexity / quantization tests)

    /usr/bin/python3 tools/train-demo/export_gguf.py [--ckpt build-train-demo/ckpt.pt]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import corpus  # noqa: E402
import gguf_writer as gw  # noqa: E402
from model import MLP, MoE, ModelArgs, Transformer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
ARCH = "deepseek2"

PROMPTS = [
    "In the beginning",
    "And the LORD said unto Moses,",
    "Blessed are the",
    "The LORD is my shepherd;",
    "<｜begin▁of▁sentence｜><｜User｜>Tell me a verse about light.<｜Assistant｜>",
    "<｜begin▁of▁sentence｜><｜User｜>What does the Bible say about love?<｜Assistant｜>",
]
LOGITS_PROMPT = "And God said, Let there be light: and there was light.\nAnd God saw the light, that it was good:"
N_GREEDY = 32


# ---------------------------------------------------------------- tensor table


def block_tensors(prefix, block):
    """(GGUF name, tensor, keep F32) for one transformer block, llama.cpp deepseek2 names."""
    at = block.attn
    out = [
        (prefix + "attn_norm.weight", block.attn_norm.weight, True),
        (prefix + "attn_q_a.weight", at.wq_a.weight, False),            # [r_q, D]
        (prefix + "attn_q_a_norm.weight", at.q_norm.weight, True),
        (prefix + "attn_q_b.weight", at.wq_b.weight, False),            # [H*(dn+dr), r_q]
        (prefix + "attn_kv_a_mqa.weight", at.wkv_a.weight, False),      # [r_kv+dr, D]
        (prefix + "attn_kv_a_norm.weight", at.kv_norm.weight, True),
        (prefix + "attn_kv_b.weight", at.wkv_b.weight, False),          # [H*(dn+dv), r_kv]
        (prefix + "attn_output.weight", at.wo.weight, False),           # [D, H*dv]
        (prefix + "ffn_norm.weight", block.ffn_norm.weight, True),
    ]
    f = block.ffn
    if isinstance(f, MLP):
        return out + [(prefix + "ffn_gate.weight", f.w1.weight, False),
                      (prefix + "ffn_up.weight", f.w3.weight, False),
                      (prefix + "ffn_down.weight", f.w2.weight, False)]
    assert isinstance(f, MoE)

    def stack(w):  # experts stacked in expert order: [E, out, in]
        return torch.stack([getattr(e, w).weight for e in f.experts])

    return out + [
        (prefix + "ffn_gate_inp.weight", f.gate.weight, True),          # [E, D] router
        (prefix + "exp_probs_b.bias", f.gate.bias, True),               # [E] e_score_correction_bias
        (prefix + "ffn_gate_exps.weight", stack("w1"), False),          # [E, moe_ff, D]
        (prefix + "ffn_up_exps.weight", stack("w3"), False),            # [E, moe_ff, D]
        (prefix + "ffn_down_exps.weight", stack("w2"), False),          # [E, D, moe_ff]
        (prefix + "ffn_gate_shexp.weight", f.shared_experts.w1.weight, False),
        (prefix + "ffn_up_shexp.weight", f.shared_experts.w3.weight, False),
        (prefix + "ffn_down_shexp.weight", f.shared_experts.w2.weight, False),
    ]


def gguf_tensors(model, mtp_copies):
    a = model.a
    out = [("token_embd.weight", model.embed.weight, False)]
    for i, layer in enumerate(model.layers):
        out += block_tensors(f"blk.{i}.", layer)
    out += [("output_norm.weight", model.norm.weight, True), ("output.weight", model.head.weight, False)]
    for k, m in enumerate(model.mtp):
        p = f"blk.{a.n_layers + k}."
        out += block_tensors(p, m.block)
        out += [(p + "nextn.eh_proj.weight", m.eh_proj.weight, False),   # [D, 2D]: [emb ; hidden]
                (p + "nextn.enorm.weight", m.enorm.weight, True),
                (p + "nextn.hnorm.weight", m.hnorm.weight, True),
                (p + "nextn.shared_head_norm.weight", m.norm.weight, True)]
        if mtp_copies:  # shared with the main model; llama.cpp treats them as optional
            out += [(p + "nextn.embed_tokens.weight", model.embed.weight, False),
                    (p + "nextn.shared_head_head.weight", model.head.weight, False)]
    return out


def round_to_f16(model):
    """Rounds every weight stored as F16 so the goldens use exactly the exported values."""
    with torch.no_grad():
        for _, t, keep_f32 in gguf_tensors(model, False):
            if not keep_f32 and t.is_leaf:
                t.copy_(t.half().float())
        for m in model.moe_layers():
            for e in m.experts:
                for w in (e.w1, e.w2, e.w3):
                    w.weight.copy_(w.weight.half().float())


# ---------------------------------------------------------------- metadata


def tokenizer_kv(w, tok_dir):
    with open(os.path.join(tok_dir, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    with open(os.path.join(tok_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        tc = json.load(f)
    vocab = dict(tj["model"]["vocab"])
    special = {t["id"]: t["content"] for t in tj["added_tokens"]}
    n = max(list(vocab.values()) + list(special)) + 1
    tokens = [None] * n
    for s, i in vocab.items():
        tokens[i] = s
    for i, s in special.items():
        tokens[i] = s
    types = [3 if i in special else 1 for i in range(n)]   # CONTROL / NORMAL
    assert all(t is not None for t in tokens)
    ids = {t["content"]: t["id"] for t in tj["added_tokens"]}
    w.add("tokenizer.ggml.model", gw.STRING, "gpt2")
    w.add("tokenizer.ggml.pre", gw.STRING, "deepseek-v3")
    w.add_array("tokenizer.ggml.tokens", gw.STRING, tokens)
    w.add_array("tokenizer.ggml.token_type", gw.I32, types)
    w.add_array("tokenizer.ggml.merges", gw.STRING,
                [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]])
    w.add("tokenizer.ggml.bos_token_id", gw.U32, ids["<｜begin▁of▁sentence｜>"])
    w.add("tokenizer.ggml.eos_token_id", gw.U32, ids["<｜end▁of▁sentence｜>"])
    w.add("tokenizer.ggml.padding_token_id", gw.U32, ids["<｜end▁of▁sentence｜>"])
    w.add("tokenizer.ggml.add_bos_token", gw.BOOL, bool(tc.get("add_bos_token", True)))
    w.add("tokenizer.ggml.add_eos_token", gw.BOOL, bool(tc.get("add_eos_token", False)))
    w.add("tokenizer.chat_template", gw.STRING, tc["chat_template"])
    return n


def model_kv(w, a: ModelArgs, name):
    k = ARCH + "."
    w.add("general.architecture", gw.STRING, ARCH)
    w.add("general.type", gw.STRING, "model")
    w.add("general.name", gw.STRING, name)
    # llama.cpp's next-N convention (convert_hf_to_gguf DeepseekV32Model, GLM-4.5, ...):
    # block_count counts the MTP layers too; the main model runs block_count - nextn_predict_layers
    # blocks and the MTP layers follow as blk.{n_layers + k}.
    w.add(k + "block_count", gw.U32, a.n_layers + a.n_mtp)
    w.add(k + "context_length", gw.U32, a.max_seq_len)
    w.add(k + "embedding_length", gw.U32, a.dim)
    w.add(k + "feed_forward_length", gw.U32, a.inter_dim)
    w.add(k + "attention.head_count", gw.U32, a.n_heads)
    w.add(k + "attention.head_count_kv", gw.U32, a.n_heads)          # old (attn_kv_b) form
    w.add(k + "rope.freq_base", gw.F32, a.rope_theta)
    w.add(k + "attention.layer_norm_rms_epsilon", gw.F32, a.norm_eps)
    w.add(k + "expert_used_count", gw.U32, a.n_activated_experts)
    w.add("general.file_type", gw.U32, 1)                              # MOSTLY_F16
    w.add(k + "vocab_size", gw.U32, a.vocab_size)
    w.add(k + "leading_dense_block_count", gw.U32, a.n_dense_layers)
    w.add(k + "attention.q_lora_rank", gw.U32, a.q_lora_rank)
    w.add(k + "attention.kv_lora_rank", gw.U32, a.kv_lora_rank)
    w.add(k + "attention.key_length", gw.U32, a.qk_nope_head_dim + a.qk_rope_head_dim)
    w.add(k + "attention.value_length", gw.U32, a.v_head_dim)
    w.add(k + "expert_feed_forward_length", gw.U32, a.moe_inter_dim)
    w.add(k + "expert_count", gw.U32, a.n_routed_experts)
    w.add(k + "expert_shared_count", gw.U32, a.n_shared_experts)
    w.add(k + "expert_weights_scale", gw.F32, a.route_scale)
    w.add(k + "expert_weights_norm", gw.BOOL, True)
    w.add(k + "expert_gating_func", gw.U32, 2)                         # sigmoid
    w.add(k + "expert_group_count", gw.U32, a.n_expert_groups)
    w.add(k + "expert_group_used_count", gw.U32, a.n_limited_groups)
    w.add(k + "rope.dimension_count", gw.U32, a.qk_rope_head_dim)
    if a.yarn():
        w.add(k + "rope.scaling.type", gw.STRING, "yarn")
        w.add(k + "rope.scaling.factor", gw.F32, a.rope_factor)
        w.add(k + "rope.scaling.original_context_length", gw.U32, a.original_seq_len)
        w.add(k + "rope.scaling.yarn_log_multiplier", gw.F32, 0.1 * a.mscale)
    w.add(k + "nextn_predict_layers", gw.U32, a.n_mtp)
    w.add("general.quantization_version", gw.U32, 2)


def write_gguf(model, tok_dir, path, mtp_copies):
    w = gw.GgufWriter()
    model_kv(w, model.a, "Frugal demo DeepSeek-V3 tiny (KJV)")
    n_tok = tokenizer_kv(w, tok_dir)
    assert n_tok == model.a.vocab_size, (n_tok, model.a.vocab_size)
    for name, t, keep_f32 in gguf_tensors(model, mtp_copies):
        w.add_tensor(name, t.detach().float().numpy(), gw.GGML_F32 if keep_f32 else gw.GGML_F16)
    w.write(path)


# ---------------------------------------------------------------- goldens


@torch.no_grad()
def greedy(model, ids, n, eos):
    ids = list(ids)
    out, margins = [], []
    for _ in range(n):
        logits = model(torch.tensor([ids]))[0, -1]
        top = torch.topk(logits, 2)
        nxt = int(top.indices[0])
        margins.append(float(top.values[0] - top.values[1]))
        out.append(nxt)
        ids.append(nxt)
        if nxt == eos:
            break
    return out, min(margins)


@torch.no_grad()
def write_goldens(model, tok, data_dir):
    os.makedirs(data_dir, exist_ok=True)
    cases = []
    for p in PROMPTS:
        chat = p.startswith("<｜begin▁of▁sentence｜>")
        ids = tok.encode(p, add_bos=not chat)
        gen, margin = greedy(model, ids, N_GREEDY, tok.eos_id)
        cases.append({"prompt": p, "prompt_ids": ids, "greedy_ids": gen,
                      "greedy_text": tok.decode(gen, skip_special=True),
                      "min_top2_margin": round(margin, 4)})
    ids = tok.encode(LOGITS_PROMPT)
    x = torch.tensor([ids])
    h = model.hidden(x)
    logits = model.head(model.norm(h))[0].numpy().astype(np.float32)
    mtp = model.mtp_logits(h[:, :-1], x[:, 1:])[0].numpy().astype(np.float32)
    np.save(os.path.join(data_dir, "demo_logits.npy"), logits)
    np.save(os.path.join(data_dir, "demo_mtp_logits.npy"), mtp)
    golden = {
        "model": "models/demo-v3-tiny.gguf",
        "note": "computed by tools/train-demo/export_gguf.py with the PyTorch model and the "
                "exported (F16-rounded) weights, float32 math; greedy = argmax, BOS added to "
                "plain prompts, chat prompts already rendered with the chat template",
        "logits_prompt": LOGITS_PROMPT, "logits_ids": ids,
        "logits_file": "demo_logits.npy", "mtp_logits_file": "demo_mtp_logits.npy",
        "cases": cases,
    }
    with open(os.path.join(data_dir, "demo_golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
    return golden


def write_heldout(cache_dir, data_dir, n_chars=60000):
    _, val = corpus.train_val_chapters(corpus.read_verses(cache_dir))
    text = ""
    for ch in val:
        if len(text) >= n_chars:
            break
        text += corpus.chapter_text(ch)
    with open(os.path.join(data_dir, "demo_heldout.txt"), "w", encoding="utf-8") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=os.path.join(ROOT, "build-train-demo", "ckpt.pt"))
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "tokenizer"))
    ap.add_argument("--gguf", default=os.path.join(ROOT, "models", "demo-v3-tiny.gguf"))
    ap.add_argument("--data", default=os.path.join(ROOT, "tests", "model", "data"))
    ap.add_argument("--mtp-copies", action="store_true",
                    help="also write nextn.embed_tokens / nextn.shared_head_head (copies, +4 MB)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    ck = torch.load(a.ckpt)
    model = Transformer(ModelArgs(**ck["args"]))
    model.load_state_dict(ck["model"])
    model.eval()
    round_to_f16(model)
    os.makedirs(os.path.dirname(a.gguf), exist_ok=True)
    write_gguf(model, a.tokenizer, a.gguf, a.mtp_copies)
    tok = bpe.Tokenizer.from_files(os.path.join(a.tokenizer, "tokenizer.json"))
    golden = write_goldens(model, tok, a.data)
    write_heldout(os.path.dirname(a.ckpt), a.data)
    print(f"{a.gguf}: {os.path.getsize(a.gguf) / 1e6:.2f} MB", file=sys.stderr)
    for c in golden["cases"]:
        print(f"{c['prompt']!r} -> {c['greedy_text']!r} (margin {c['min_top2_margin']})", file=sys.stderr)


if __name__ == "__main__":
    main()

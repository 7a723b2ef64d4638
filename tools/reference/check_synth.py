#!/usr/bin/python3
"""Cross-check `frugal logits` against the float64 NumPy reference (deepseek2_ref.py) on
synthetic models made by `frugal synth`, covering what the oracle models do not: q_lora on/off,
YaRN on/off, softmax vs sigmoid routing, group-limited routing, the split attn_k_b/attn_v_b
form, quantized weights, and a prompt of 300+ tokens.

  /usr/bin/python3 check_synth.py PATH/TO/frugal [WORKDIR]

Exit status 0 when every case agrees within its tolerance (max |dlogit|) with the same argmax.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deepseek2_ref as ref  # noqa: E402
from gguf_read import Gguf  # noqa: E402

# name, synth flags, number of prompt tokens, tolerance
CASES = [
    ("q_lora-yarn-sigmoid-groups", [], 24, 1e-4),
    ("no_q_lora", ["--q-lora", "0"], 24, 1e-4),
    ("no_yarn", ["--yarn", "off"], 24, 1e-4),
    ("softmax-greedy", ["--scoring", "softmax", "--groups", "1", "--topk-groups", "1"], 24, 1e-4),
    ("softmax-group_limited", ["--scoring", "softmax", "--groups", "4", "--topk-groups", "2"], 24, 1e-4),
    ("sigmoid-no-groups", ["--groups", "1", "--topk-groups", "1"], 24, 1e-4),
    ("split_kv_b", ["--split-kv-b"], 24, 1e-4),
    ("q8_0", ["--type", "Q8_0"], 24, 1e-4),
    ("long-prompt-320", [], 320, 2e-4),
    ("past-yarn-original-ctx-600", ["--q-lora", "0", "--scoring", "softmax", "--groups", "1",
                                    "--topk-groups", "1"], 600, 2e-4),
]


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), r.stdout))


def check(frugal, work, name, flags, n_tok, tol):
    model = os.path.join(work, name + ".gguf")
    out = os.path.join(work, name + ".npy")
    run([frugal, "synth", "--preset", "tiny", "--seed", "7", "--out", model] + flags)
    rng = np.random.default_rng(n_tok)
    g = Gguf(model)
    cfg = ref.Config(g)
    tokens = rng.integers(0, g.meta["deepseek2.vocab_size"], n_tok)
    run([frugal, "logits", model, "--tokens", ",".join(map(str, tokens)), "--out", out])
    got = np.load(out).astype(np.float64)
    want = ref.forward(g, cfg, tokens)
    d = np.abs(got - want).max()
    same = bool((got.argmax(-1) == want.argmax(-1)).all())
    ok = d <= tol and same
    print("%-28s q_lora %-3d yarn %-5s gating %d groups %d/%d: max |dlogit| = %.3g, argmax %s  %s" % (
        name, cfg.q_lora, cfg.yarn, cfg.gating, cfg.n_group, cfg.topk_group, d,
        "same" if same else "DIFFERS", "ok" if ok else "FAIL"))
    return ok


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    frugal = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="frugal-synth-")
    os.makedirs(work, exist_ok=True)
    results = [check(frugal, work, *c) for c in CASES]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()

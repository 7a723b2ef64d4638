#!/usr/bin/python3
"""Trains the demo DeepSeek-V3 (model.py) on the KJV Bible, on the CPU, within a time budget.

    nice -n 10 /usr/bin/python3 tools/train-demo/train.py --minutes 25 [--threads 2]

A quarter of the training windows are chats in DeepSeek-V3's template
(<｜begin▁of▁sentence｜><｜User｜>Tell me a verse about light.<｜Assistant｜>{a verse}<｜end▁of▁sentence｜>...)
so that `frugal chat` gets a verse back and the model learns to stop.
Checkpoints go to --out (default build-train-demo/), the last one as ckpt.pt.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import corpus  # noqa: E402
from model import ModelArgs, Transformer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BLAS_DIRS = [os.environ.get("OPENBLAS_DIR", ""), "/usr/lib/x86_64-linux-gnu/openblas-pthread"]
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
QUESTIONS = ["Tell me a verse about {w}.", "What does the Bible say about {w}?",
             "Give me a verse with the word {w}.", "Quote a verse on {w}.", "{w}"]
STOP = set("""unto their them they which shall that with have thee thou thine this from were
hath when there then will upon said also into what your these those because before after
against even every have hast made make came come went among about shalt doth neither""".split())


class Data:
    """Token streams of the train / val chapters and the chat turns built from them."""

    def __init__(self, tok, cache_dir, seq_len, chat_fraction, seed):
        self.tok, self.T, self.chat_fraction = tok, seq_len, chat_fraction
        self.rng = random.Random(seed)
        train, val = corpus.train_val_chapters(corpus.read_verses(cache_dir))
        self.train_stream, self.train_starts, self.train_verses = self._stream(train)
        self.val_stream, self.val_starts, _ = self._stream(val)

    def _stream(self, chapters):
        stream, starts, verses = [], [], []
        for ch in chapters:
            for v in ch:
                starts.append(len(stream))
                stream.extend(self.tok.encode(v[3] + "\n", add_bos=False))
                verses.append(v[3])
        return stream, starts, verses

    def _plain(self, stream, starts, rng):
        s = rng.choice(starts[: -(self.T // 8)])
        w = [self.tok.bos_id] + stream[s: s + self.T + 1]
        while len(w) < self.T + 2:  # only near the end of the stream
            w.append(self.tok.eos_id)
        return w

    def question(self, verse, rng):
        words = [w.strip(".,;:?!()'") for w in verse.split()]
        words = [w for w in words if len(w) >= 4 and w.isalpha() and w.lower() not in STOP]
        w = rng.choice(words) if words else "God"
        if not (w.isupper() or w[0].isupper() and w != verse.split()[0]):
            w = w.lower()
        return rng.choice(QUESTIONS).format(w=w)

    def _chat(self, rng):
        t = self.tok
        ids = [t.bos_id]
        while len(ids) < self.T + 2:
            verse = rng.choice(self.train_verses)
            ids += t.encode("<｜User｜>" + self.question(verse, rng) + "<｜Assistant｜>" + verse +
                            "<｜end▁of▁sentence｜>", add_bos=False)
        return ids[: self.T + 2]

    def batch(self, n):
        rows = [self._chat(self.rng) if self.rng.random() < self.chat_fraction
                else self._plain(self.train_stream, self.train_starts, self.rng) for _ in range(n)]
        return torch.tensor(rows, dtype=torch.long)

    def val_batches(self, n_batches, n):
        rng = random.Random(1234)
        return [torch.tensor([self._plain(self.val_stream, self.val_starts, rng) for _ in range(n)])
                for _ in range(n_batches)]


@torch.no_grad()
def evaluate(model, batches):
    model.eval()
    main = mtp = 0.0
    for b in batches:
        m, t, _ = model.losses(b)
        main, mtp = main + m.item(), mtp + t.item()
    model.train()
    return main / len(batches), mtp / len(batches)


def lr_at(step, frac, a):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def save(path, model, opt, info):
    torch.save({"args": model.a.to_dict(), "model": model.state_dict(), "opt": opt.state_dict(),
                "info": info}, path + ".tmp")
    os.replace(path + ".tmp", path)


def use_openblas(threads):
    """Debian's torch calls whatever libblas.so.3 the system provides; the reference BLAS is
    ~8x slower than OpenBLAS. Re-executes this script with OpenBLAS first on the library path
    when it is found (package libopenblas0-pthread, or a directory in $OPENBLAS_DIR)."""
    if os.environ.get("TRAIN_DEMO_BLAS_SET"):
        return
    for d in BLAS_DIRS:
        if d and os.path.exists(os.path.join(d, "libblas.so.3")):
            env = dict(os.environ, TRAIN_DEMO_BLAS_SET="1", OPENBLAS_NUM_THREADS=str(threads),
                       OMP_WAIT_POLICY="PASSIVE",
                       LD_LIBRARY_PATH=d + os.pathsep + os.environ.get("LD_LIBRARY_PATH", ""))
            os.execve(sys.executable, [sys.executable] + sys.argv, env)
    print("warning: OpenBLAS not found (apt-get install libopenblas0-pthread); training will be slow",
          file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=25.0, help="wall-clock training budget")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--mtp-lambda", type=float, default=0.3, help="MTP loss weight (0.1 in the last 30%%)")
    ap.add_argument("--balance-alpha", type=float, default=1e-4, help="sequence-wise balance loss weight")
    ap.add_argument("--bias-gamma", type=float, default=1e-3, help="router bias update speed")
    ap.add_argument("--chat-fraction", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "tokenizer", "tokenizer.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build-train-demo"))
    ap.add_argument("--resume", action="store_true", help="continue from OUT/ckpt.pt")
    a = ap.parse_args()
    use_openblas(a.threads)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    tok = bpe.Tokenizer.from_files(a.tokenizer)
    data = Data(tok, a.out, a.seq, a.chat_fraction, a.seed)
    val = data.val_batches(8, 16)
    margs = ModelArgs(vocab_size=len(tok.vocab))
    model = Transformer(margs)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.95))
    ckpt = os.path.join(a.out, "ckpt.pt")
    step, tokens, spent = 0, 0, 0.0
    if a.resume:
        c = torch.load(ckpt)
        model.load_state_dict(c["model"])
        opt.load_state_dict(c["opt"])
        step, tokens, spent = c["info"]["step"], c["info"]["tokens"], c["info"]["seconds"]
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params {n_params / 1e6:.2f} M; train tokens {len(data.train_stream)}, val tokens "
          f"{len(data.val_stream)}; budget {a.minutes} min", flush=True)

    budget = a.minutes * 60.0
    t0 = time.time() - spent
    last_ckpt = time.time()
    log = []
    smooth = None
    while time.time() - t0 < budget:
        frac = (time.time() - t0) / budget
        for g in opt.param_groups:
            g["lr"] = lr_at(step, frac, a)
        lam = a.mtp_lambda if frac < 0.7 else a.mtp_lambda / 3
        x = data.batch(a.batch)
        main_loss, mtp_loss, bal = model.losses(x)
        loss = main_loss + lam * mtp_loss + a.balance_alpha * bal
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.update_router_bias(a.bias_gamma)
        step += 1
        tokens += x.shape[0] * (x.shape[1] - 2)
        smooth = main_loss.item() if smooth is None else 0.95 * smooth + 0.05 * main_loss.item()
        if step % 20 == 0:
            el = time.time() - t0
            print(f"step {step} tok {tokens} loss {main_loss.item():.3f} (avg {smooth:.3f}) mtp "
                  f"{mtp_loss.item():.3f} lr {opt.param_groups[0]['lr']:.2e} {tokens / el:.0f} tok/s "
                  f"{el / 60:.1f} min", flush=True)
        if time.time() - last_ckpt > 420:
            v = evaluate(model, val)
            log.append({"step": step, "train": smooth, "val": v[0], "val_mtp": v[1]})
            print(f"  val loss {v[0]:.3f} mtp {v[1]:.3f}", flush=True)
            save(ckpt, model, opt, {"step": step, "tokens": tokens, "seconds": time.time() - t0, "log": log})
            last_ckpt = time.time()
    v = evaluate(model, val)
    info = {"step": step, "tokens": tokens, "seconds": time.time() - t0, "params": n_params,
            "train_loss": smooth, "val_loss": v[0], "val_mtp_loss": v[1], "log": log,
            "router_bias": [[round(b, 3) for b in m.gate.bias.tolist()] for m in model.moe_layers()]}
    save(ckpt, model, opt, info)
    print(json.dumps({k: v for k, v in info.items() if k != "log"}), flush=True)


if __name__ == "__main__":
    main()

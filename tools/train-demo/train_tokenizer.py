#!/usr/bin/python3
"""Trains a small byte-level BPE on the KJV corpus and writes it as Hugging Face files:
tokenizer.json (DeepSeek-V3's pre-tokenizer and special tokens) and tokenizer_config.json
(DeepSeek-V3's chat template).

    /usr/bin/python3 tools/train-demo/train_tokenizer.py [--vocab 4096] [--out DIR]

Ids: 0 <｜begin▁of▁sentence｜>, 1 <｜end▁of▁sentence｜>, 2 <｜▁pad▁｜>, 3 <｜User｜>,
4 <｜Assistant｜>, then the 256 single bytes, then one token per merge.
"""
import argparse
import collections
import heapq
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import corpus  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>", "<｜User｜>",
            "<｜Assistant｜>"]
V3_CONFIG = "/work/shared/data/tokenizer/deepseek-v3/tokenizer_config.json"
TEMPLATE_FILE = os.path.join(HERE, "chat_template.jinja")

# DeepSeek-V3's pre-tokenizer as its tokenizer.json writes it (GGUF name "deepseek-v3").
PRE_TOKENIZER = {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": False},
    {"type": "Split", "pattern": {"Regex": "[一-龥぀-ゟ゠-ヿ]+"}, "behavior": "Isolated",
     "invert": False},
    {"type": "Split", "pattern": {"Regex":
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
        "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": False},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}


def word_counts(texts):
    counts = collections.Counter()
    for t in texts:
        counts.update(bpe.pre_tokenize(t))
    return counts


def train_bpe(counts, n_merges):
    """Classic BPE over unique pieces: repeatedly merge the most frequent adjacent pair
    (ties: the lexicographically smallest pair). Returns the merge list [(left, right)]."""
    words = [list(bpe.to_byte_chars(w)) for w in counts]
    freq = list(counts.values())
    pair_count = collections.Counter()
    where = collections.defaultdict(set)  # pair -> indices of words containing it
    for wi, syms in enumerate(words):
        for a, b in zip(syms, syms[1:]):
            pair_count[(a, b)] += freq[wi]
            where[(a, b)].add(wi)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges and heap:
        c, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -c or c == 0:
            continue  # stale entry
        merges.append(pair)
        new = pair[0] + pair[1]
        touched = set()
        for wi in list(where[pair]):
            syms, f = words[wi], freq[wi]
            for a, b in zip(syms, syms[1:]):  # remove the word's old pairs
                pair_count[(a, b)] -= f
                touched.add((a, b))
            out, k = [], 0
            while k < len(syms):
                if k + 1 < len(syms) and syms[k] == pair[0] and syms[k + 1] == pair[1]:
                    out.append(new)
                    k += 2
                else:
                    out.append(syms[k])
                    k += 1
            words[wi] = out
            for a, b in zip(out, out[1:]):
                pair_count[(a, b)] += f
                where[(a, b)].add(wi)
                touched.add((a, b))
        del where[pair]
        pair_count.pop(pair, None)
        for p in touched:
            if pair_count.get(p, 0) > 0:
                heapq.heappush(heap, (-pair_count[p], p))
    return merges


def build_vocab(merges, vocab_size):
    vocab = {s: i for i, s in enumerate(SPECIALS)}
    for b in range(256):
        vocab[bpe.BYTE_TO_CHAR[b]] = len(vocab)
    kept = []
    for a, b in merges:
        if len(vocab) >= vocab_size:
            break
        kept.append((a, b))
        vocab.setdefault(a + b, len(vocab))
    return vocab, kept


def tokenizer_json(vocab, merges):
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(SPECIALS)]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": []},
        "pre_tokenizer": PRE_TOKENIZER,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False,
                  "byte_fallback": False, "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def chat_template():
    """DeepSeek-V3's chat template (copied to chat_template.jinja so retraining needs no
    outside file)."""
    if os.path.exists(TEMPLATE_FILE):
        with open(TEMPLATE_FILE, encoding="utf-8") as f:
            return f.read()
    with open(V3_CONFIG, encoding="utf-8") as f:
        t = json.load(f)["chat_template"]
    with open(TEMPLATE_FILE, "w", encoding="utf-8") as f:
        f.write(t)
    return t


def tokenizer_config():
    def tok(s):
        return {"__type": "AddedToken", "content": s, "lstrip": False, "normalized": True,
                "rstrip": False, "single_word": False}
    return {"add_bos_token": True, "add_eos_token": False, "bos_token": tok(SPECIALS[0]),
            "clean_up_tokenization_spaces": False, "eos_token": tok(SPECIALS[1]), "legacy": True,
            "model_max_length": 1024, "pad_token": tok(SPECIALS[1]), "sp_model_kwargs": {},
            "unk_token": None, "tokenizer_class": "LlamaTokenizerFast",
            "chat_template": chat_template()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--out", default=os.path.join(HERE, "tokenizer"))
    ap.add_argument("--cache", default=os.path.join(ROOT, "build-train-demo"))
    args = ap.parse_args()
    t0 = time.time()
    verses = corpus.read_verses(args.cache)
    train, _ = corpus.train_val_chapters(verses)
    counts = word_counts(corpus.chapter_text(c) for c in train)
    # Chat turns use words like "Tell", "verse", "Bible": count a few so they get tokens.
    counts.update(bpe.pre_tokenize(" ".join(["Tell me a verse about", "What does the Bible say about",
                                             "Give me a verse with the word", "Quote a verse on", ""]) * 50))
    print(f"{len(counts)} distinct pieces", file=sys.stderr)
    n_merges = args.vocab - len(SPECIALS) - 256
    merges = train_bpe(counts, n_merges + 64)  # a few spare: merges may repeat a token string
    vocab, merges = build_vocab(merges, args.vocab)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False, indent=1)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config(), f, ensure_ascii=False, indent=2)
    tok = bpe.Tokenizer.from_files(os.path.join(args.out, "tokenizer.json"))
    sample = "In the beginning God created the heaven and the earth."
    ids = tok.encode(sample)
    assert tok.decode(ids, skip_special=True) == sample
    print(f"vocab {len(vocab)}, merges {len(merges)}, {time.time() - t0:.1f} s; "
          f"{sample!r} -> {ids}", file=sys.stderr)


if __name__ == "__main__":
    main()

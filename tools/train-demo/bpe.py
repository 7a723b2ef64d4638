"""Byte-level BPE with DeepSeek-V3's pre-tokenizer, in plain Python (no `regex` module needed).

The pre-tokenizer is the one GGUF calls `deepseek-v3` (three Isolated splits, then the GPT-2
byte-to-unicode map); see ../../../shared/docs/reference/tokenizer.md §2. The third split's
regex alternatives are matched by hand below, with the same leftmost-first semantics as
Oniguruma / PCRE2, using Unicode categories from `unicodedata`.
"""
import json
import unicodedata

# ---------------------------------------------------------------- byte <-> unicode (GPT-2 rule)


def bytes_to_unicode():
    """Maps every byte to one printable character: 188 printable bytes map to themselves, the
    other 68 (0x00-0x20, 0x7F-0xA0, 0xAD) in increasing order to U+0100, U+0101, ..."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(0x100 + extra)
            extra += 1
    return table


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def to_byte_chars(piece):
    return "".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))


# ---------------------------------------------------------------- character classes

# Unicode White_Space (what \s means in Oniguruma and in Frugal's PCRE2 rewrite).
WHITE_SPACE = set("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)}
ASCII_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _cat(c):
    return unicodedata.category(c)[0]


def is_space(c):
    return c in WHITE_SPACE


def is_letter(c):  # \p{L}
    return _cat(c) == "L"


def is_letter_or_mark(c):  # [\p{L}\p{M}]
    return _cat(c) in ("L", "M")


def is_punct_or_symbol(c):  # [\p{P}\p{S}]
    return _cat(c) in ("P", "S")


def is_number(c):  # \p{N}
    return _cat(c) == "N"


def is_cjk_kana(c):  # [一-龥぀-ゟ゠-ヿ]
    o = ord(c)
    return 0x4E00 <= o <= 0x9FA5 or 0x3040 <= o <= 0x309F or 0x30A0 <= o <= 0x30FF


# ---------------------------------------------------------------- the three splits


def _split_isolated(text, match_at):
    """HF Split(behavior=Isolated): every match is a piece and so is every gap between them.
    `match_at(text, i)` returns the end of a match starting at i, or None."""
    out, gap, i = [], 0, 0
    while i < len(text):
        end = match_at(text, i)
        if end is None:
            i += 1
            continue
        if gap < i:
            out.append(text[gap:i])
        out.append(text[i:end])
        gap = i = end
    if gap < len(text):
        out.append(text[gap:])
    return out


def _match_digits(t, i):  # \p{N}{1,3}
    j = i
    while j < len(t) and j - i < 3 and is_number(t[j]):
        j += 1
    return j if j > i else None


def _match_cjk(t, i):  # [一-龥぀-ゟ゠-ヿ]+
    j = i
    while j < len(t) and is_cjk_kana(t[j]):
        j += 1
    return j if j > i else None


def _run(t, i, pred):
    while i < len(t) and pred(t[i]):
        i += 1
    return i


def _match_words(t, i):
    """[!"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+
    |[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+
    | ?[\\p{P}\\p{S}]+[\\r\\n]*
    |\\s*[\\r\\n]+
    |\\s+(?!\\S)
    |\\s+"""
    n, c = len(t), t[i]
    # 1. one ASCII punctuation char glued to ASCII letters
    if c in ASCII_PUNCT:
        j = _run(t, i + 1, lambda x: x.isascii() and x.isalpha())
        if j > i + 1:
            return j
    # 2. optional prefix char, then letters/marks (the prefix is tried first: greedy ?)
    if c not in "\r\n" and not is_letter(c) and not is_punct_or_symbol(c):
        j = _run(t, i + 1, is_letter_or_mark)
        if j > i + 1:
            return j
    j = _run(t, i, is_letter_or_mark)
    if j > i:
        return j
    # 3. optional space, punctuation/symbols, trailing line breaks
    k = i + 1 if c == " " else i
    j = _run(t, k, is_punct_or_symbol)
    if j > k:
        return _run(t, j, lambda x: x in "\r\n")
    if k != i:  # the optional space may also be left out (it is not punct, so nothing to gain)
        pass
    # 4-6. whitespace
    w = _run(t, i, is_space)
    if w == i:
        return None
    last_nl = max((p for p in range(i, w) if t[p] in "\r\n"), default=None)
    if last_nl is not None:  # \s*[\r\n]+ : greedy \s* backs off to the last line break
        return last_nl + 1
    if w == n:  # \s+(?!\S) at the end of text
        return w
    if w - 1 > i:  # \s+(?!\S): give back the last space to the next word
        return w - 1
    return w  # \s+


def pre_tokenize(text):
    """Splits text into the pieces BPE works on (deepseek-v3 pre-tokenizer)."""
    pieces = [text]
    for match in (_match_digits, _match_cjk, _match_words):
        pieces = [p for piece in pieces for p in _split_isolated(piece, match)]
    return pieces


# ---------------------------------------------------------------- tokenizer


class Tokenizer:
    """Encodes / decodes with a vocabulary and merge list (HF tokenizer.json layout)."""

    def __init__(self, vocab, merges, special_tokens, bos_id, eos_id):
        self.vocab = vocab                      # byte-char string -> id
        self.id_to_token = {i: s for s, i in vocab.items()}
        self.ranks = {pair: r for r, pair in enumerate(merges)}
        self.special = dict(special_tokens)     # literal content -> id
        self.bos_id, self.eos_id = bos_id, eos_id
        self._cache = {}

    @staticmethod
    def from_files(tokenizer_json, tokenizer_config_json=None):
        with open(tokenizer_json, encoding="utf-8") as f:
            d = json.load(f)
        vocab = d["model"]["vocab"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in d["model"]["merges"]]
        special = {t["content"]: t["id"] for t in d["added_tokens"]}
        bos = special["<｜begin▁of▁sentence｜>"]
        eos = special["<｜end▁of▁sentence｜>"]
        for t in d["added_tokens"]:
            vocab.setdefault(t["content"], t["id"])
        return Tokenizer(vocab, merges, special, bos, eos)

    def _bpe(self, piece):
        if piece in self._cache:
            return self._cache[piece]
        syms = list(to_byte_chars(piece))
        while len(syms) > 1:
            best, best_rank = None, None
            for k in range(len(syms) - 1):
                r = self.ranks.get((syms[k], syms[k + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = k, r
            if best is None:
                break
            syms[best:best + 2] = [syms[best] + syms[best + 1]]
        ids = [self.vocab[s] for s in syms]
        self._cache[piece] = ids
        return ids

    def _split_special(self, text):
        """Yields (is_special, str) chunks, matching special tokens leftmost-longest."""
        i, start = 0, 0
        names = sorted(self.special, key=len, reverse=True)
        while i < len(text):
            hit = next((s for s in names if text.startswith(s, i)), None)
            if hit is None:
                i += 1
                continue
            if start < i:
                yield False, text[start:i]
            yield True, hit
            i = start = i + len(hit)
        if start < len(text):
            yield False, text[start:]

    def encode(self, text, add_bos=True, parse_special=True):
        ids = [self.bos_id] if add_bos else []
        chunks = self._split_special(text) if parse_special else [(False, text)]
        for is_special, chunk in chunks:
            if is_special:
                ids.append(self.special[chunk])
                continue
            for piece in pre_tokenize(chunk):
                ids.extend(self._bpe(piece))
        return ids

    def decode(self, ids, skip_special=False):
        out, buf = [], bytearray()
        specials = set(self.special.values())
        for i in ids:
            tok = self.id_to_token[i]
            if i in specials:
                out.append(buf.decode("utf-8", errors="replace"))
                buf = bytearray()
                if not skip_special:
                    out.append(tok)
                continue
            buf.extend(CHAR_TO_BYTE[c] for c in tok)
        out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)

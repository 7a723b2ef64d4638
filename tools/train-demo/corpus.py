"""The training corpus: the King James Version of the Bible (public domain), read from Debian's
bible-kjv-text package with that package's own program (`bible`, package bible-kjv).

The package stores the text compressed with a concordance (/usr/lib/bible.data); `bible -f`
with pretty-printing off prints one verse a line, preceded by its reference, e.g.
"Ge1:1 In the beginning God created the heaven and the earth."
"""
import os
import re
import subprocess

REF = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")
VAL_EVERY = 40  # every 40th chapter (in Bible order) is held out for validation


def read_verses(cache_dir):
    """Returns [(book, chapter, verse, text)] for the whole Bible, Genesis to Revelation."""
    path = os.path.join(cache_dir, "kjv.txt")
    if not os.path.exists(path):
        os.makedirs(cache_dir, exist_ok=True)
        try:
            raw = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], stdin=subprocess.DEVNULL,
                                 capture_output=True, check=True, text=True).stdout
        except FileNotFoundError:
            raise SystemExit("the `bible` program is missing: apt-get install bible-kjv bible-kjv-text")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(raw)
        os.replace(path + ".tmp", path)
    verses = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = REF.match(line.rstrip("\n"))
            if m:
                verses.append((m.group(1), int(m.group(2)), int(m.group(3)), m.group(4).strip()))
    if len(verses) < 31000:
        raise SystemExit(f"{path}: expected the whole Bible (31102 verses), found {len(verses)}")
    return verses


def split_chapters(verses):
    """Groups verses by chapter, in order: [[(book, chapter, verse, text), ...], ...]."""
    chapters, key = [], None
    for v in verses:
        if (v[0], v[1]) != key:
            chapters.append([])
            key = (v[0], v[1])
        chapters[-1].append(v)
    return chapters


def train_val_chapters(verses):
    chapters = split_chapters(verses)
    train = [c for i, c in enumerate(chapters) if i % VAL_EVERY != VAL_EVERY // 2]
    val = [c for i, c in enumerate(chapters) if i % VAL_EVERY == VAL_EVERY // 2]
    return train, val


def chapter_text(chapter):
    """A chapter as plain prose: one verse a line, no references."""
    return "".join(v[3] + "\n" for v in chapter)

"""Roman spelling of place names (GB/T 16159-2012 §6.4, 中国地名汉语拼音字母拼写规则).

- Hanyu Pinyin without tone marks; ü kept after l and n (lü, nü), written u after j, q, x, y.
- Administrative units write the specific and the generic apart, each capitalised:
  程家嘴村 → Chengjiazui Cun, 凤阳社区 → Fengyang Shequ, 汉阳镇 → Hanyang Zhen.
  Natural villages and names without a separable generic join every syllable
  (王村 → Wangcun, ``admin=False``).
- An apostrophe goes before a syllable starting with a, o or e that is not the first of its
  word: 西安村 → Xi'an Cun, 天鹅村 → Tian'e Cun.
- Polyphonic characters are read by word (pypinyin's phrase dictionary), then corrected by
  a table of place-name readings (``polyphones.csv`` next to this file: 长 chang, 朝 chao,
  十里堡 Shilipu, 六安 Lu'an, surnames 曾家 Zengjia ...), and by a user table with the same
  columns (``word,pinyin``) that takes precedence. Longest word wins.
- Arabic digits and Latin letters are kept as written.
"""

from __future__ import annotations

import functools
from pathlib import Path

from pypinyin import Style, lazy_pinyin

from geoservice.analysis.placenames.names import is_han
from layers.labels import read_readings

POLYPHONES_FILE = Path(__file__).with_name("polyphones.csv")

# Generics of administrative units, longest first, with their spelling.
ADMIN_GENERICS: tuple[tuple[str, str], ...] = (
    ("社区", "Shequ"), ("街道", "Jiedao"), ("居委会", "Juweihui"), ("嘎查", "Gacha"),
    ("村", "Cun"), ("镇", "Zhen"), ("乡", "Xiang"),
)
_VOWEL_START = ("a", "o", "e")


@functools.cache
def builtin_overrides() -> dict[str, list[str]]:
    return read_readings(POLYPHONES_FILE)


class Romanizer:
    """Syllables and spellings of standard names, with a reading table; cached."""

    def __init__(self, overrides: dict[str, list[str]] | None = None,
                 user_file: str | Path | None = None):
        table = dict(builtin_overrides())
        if user_file:
            table.update(read_readings(user_file))
        if overrides:
            table.update(overrides)
        self.table = table
        self.max_len = max((len(w) for w in table), default=0)
        self._cache: dict[str, tuple[str, ...]] = {}

    def syllables(self, text: str) -> tuple[str, ...]:
        """Tone-less syllables (lower case, ü kept) of ``text``; non-Han runs as written."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        out: list[str] = []
        run_start = 0
        i = 0
        n = len(text)
        while i < n:
            word = None
            if is_han(text[i]):
                for k in range(min(self.max_len, n - i), 0, -1):
                    if text[i:i + k] in self.table:
                        word = text[i:i + k]
                        break
            if word is None:
                i += 1
                continue
            out.extend(_pypinyin(text[run_start:i]))
            out.extend(self.table[word])
            i += len(word)
            run_start = i
        out.extend(_pypinyin(text[run_start:]))
        result = tuple(out)
        if len(self._cache) < 2_000_000:
            self._cache[text] = result
        return result

    def key(self, text: str) -> str:
        """Tone-less sound key used to find same-sounding names (ü as v)."""
        return " ".join(self.syllables(text)).replace("ü", "v").lower()

    def word(self, text: str) -> str:
        """One capitalised word of joined syllables with GB/T 16159 apostrophes."""
        return spell_word(self.syllables(text))

    def romanize(self, name: str, admin: bool = True) -> str:
        """The roman spelling of a standard name (see the module notes)."""
        if not name:
            return ""
        if admin:
            specific, generic, spelled = split_generic(name)
            if generic and specific:
                return f"{self.word(specific)} {spelled}"
        return self.word(name)


def split_generic(name: str) -> tuple[str, str, str]:
    """(specific, generic, generic's spelling) of an administrative name; generic '' when
    the name does not end in a known generic."""
    for generic, spelled in ADMIN_GENERICS:
        if name.endswith(generic):
            return name[: -len(generic)], generic, spelled
    return name, "", ""


def spell_word(syllables) -> str:
    parts: list[str] = []
    prev_alpha = False
    for s in syllables:
        if parts and prev_alpha and s[:1] in _VOWEL_START:
            parts.append("'")
        parts.append(s)
        prev_alpha = s.isalpha()
    text = "".join(parts)
    return text[:1].upper() + text[1:]


def _pypinyin(text: str) -> list[str]:
    if not text:
        return []
    out = []
    for piece in lazy_pinyin(text, style=Style.NORMAL, v_to_u=True, errors="default"):
        if piece.isascii() and not piece.isalpha():
            # digits / punctuation come back as one run: keep digits and letters only
            piece = "".join(ch for ch in piece if ch.isalnum())
            if not piece:
                continue
        out.append(piece.lower() if piece.isalpha() and piece.isascii() else piece)
    return out

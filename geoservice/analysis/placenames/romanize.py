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

Speed: pypinyin segments a text into phrases and converts each phrase on its own, so
the conversion of a phrase is cached (a national roster of 620,000 names has fewer than
10,000 distinct phrases); the result equals ``lazy_pinyin`` call for call.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from pypinyin import Style
from pypinyin.converter import UltimateConverter
from pypinyin.core import Pinyin

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
        # The table's words, longest first: at each Han character the longest word of
        # the table starting there is taken (a word can only start at a Han character).
        words = sorted((w for w in table if w and is_han(w[0])), key=len, reverse=True)
        self._words = re.compile("|".join(map(re.escape, words))) if words else None
        self._cache: dict[str, tuple[str, ...]] = {}

    def syllables(self, text: str) -> tuple[str, ...]:
        """Tone-less syllables (lower case, ü kept) of ``text``; non-Han runs as written."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        out: list[str] = []
        start = 0
        if self._words is not None:
            for found in self._words.finditer(text):
                out.extend(_pypinyin(text[start:found.start()]))
                out.extend(self.table[found.group()])
                start = found.end()
        out.extend(_pypinyin(text[start:]))
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


# What ``lazy_pinyin(text, style=Style.NORMAL, v_to_u=True, errors="default")`` does,
# one converter for every call, with the conversion of each phrase cached.
_PINYIN = Pinyin(UltimateConverter(v_to_u=True, neutral_tone_with_five=False,
                                   tone_sandhi=False))
_PHRASES: dict[str, tuple[str, ...]] = {}
_PHRASES_MAX = 200_000


def _phrase(word: str) -> tuple[str, ...]:
    hit = _PHRASES.get(word)
    if hit is not None:
        return hit
    out = []
    for pieces in _PINYIN._converter.convert(word, Style.NORMAL, False, "default", True):
        for piece in pieces:
            if piece.isascii() and not piece.isalpha():
                # digits / punctuation come back as one run: keep digits and letters only
                piece = "".join(ch for ch in piece if ch.isalnum())
                if not piece:
                    continue
            out.append(piece.lower() if piece.isalpha() and piece.isascii() else piece)
    result = tuple(out)
    if len(_PHRASES) < _PHRASES_MAX:
        _PHRASES[word] = result
    return result


def _pypinyin(text: str) -> list[str]:
    if not text:
        return []
    out: list[str] = []
    for word in _PINYIN.seg(text):
        out.extend(_phrase(word))
    return out

"""Standard place names: committee suffixes stripped, text normalised, problems named.

A village's place name is the name of where its committee sits (DOMAIN.md "Place names"):
柳溪村, not 柳溪村村民委员会. Rosters and map labels mix 村委会, 村民委员会, 居委会,
居民委员会, 社区居民委员会 and doubled forms (友爱村村民委员会); :func:`standard_name`
strips them after :func:`normalize` has folded full-width forms, spaces and traditional or
variant characters into the simplified forms used in the roster.

Rare characters: the 通用规范汉字表 (2013) level-1/2 list is not available as a package
here, so a character counts as rare when it is a Han character outside GB 2312 (6,763
characters, close to the level-1/2 set of 6,500). That is an approximation: a few
characters of the table are not in GB 2312 and vice versa. Documented in docs/placenames.md.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from opencc import OpenCC

from geoservice.analysis.settings import placenames_defaults

# (suffix, generic it implies) in the order they are tried, longest first: from
# defaults.toml [placenames] committee_suffixes.
COMMITTEE_SUFFIXES: tuple[tuple[str, str], ...] = placenames_defaults()["committee_suffixes"]

# Variant forms OpenCC t2s leaves alone (or that are simplified already but not the
# roster's form). Keep it small and obvious.
VARIANTS = {
    "邨": "村", "塲": "场", "㘭": "坳", "嶴": "岙", "坵": "丘", "菴": "庵", "衕": "同",
    "裏": "里", "濛": "蒙", "峯": "峰", "羣": "群", "厰": "厂", "廐": "厩", "洩": "泄",
    "\u3007": "〇",
}

_SPACE = re.compile(r"\s+")
_DOTS = str.maketrans({"·": "", "•": "", "・": "", "‧": ""})
_T2S = None


def _t2s() -> OpenCC:
    global _T2S
    if _T2S is None:
        _T2S = OpenCC("t2s")
    return _T2S


def _gb2312(text: str) -> bool:
    """Every character of ``text`` is in GB 2312."""
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def is_han(ch: str) -> bool:
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x323AF
            or 0xF900 <= cp <= 0xFAFF)


@functools.lru_cache(maxsize=1_000_000)
def normalize(text) -> str:
    """NFKC (full-width letters, digits and brackets to half-width), no spaces, no
    interpuncts, traditional and variant characters to simplified.

    OpenCC (t2s, phrase-aware) runs only when the text has a character outside GB 2312,
    which is where traditional forms live; pure GB 2312 text is simplified already.
    """
    if text is None:
        return ""
    t = unicodedata.normalize("NFKC", str(text))
    t = _SPACE.sub("", t).translate(_DOTS)
    if not _gb2312(t):  # one encode for the whole text: fails iff one character does
        t = _t2s().convert(t)
        t = "".join(VARIANTS.get(ch, ch) for ch in t)
    return t


@functools.lru_cache(maxsize=1_000_000)
def strip_suffix(name: str) -> tuple[str, str | None]:
    """(standard name, suffix stripped or None) of an already normalised name.

    柳溪村村民委员会 -> 柳溪村, 兰沟村民委员会 -> 兰沟村, 凤阳社区居委会 -> 凤阳社区,
    杨店村委会 -> 杨店村, 友爱村村民委员会 -> 友爱村. The generic of the suffix (村 for
    村民委员会) belongs to the name when what remains does not already end in it.
    """
    for suffix, generic in COMMITTEE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            rest = name[: -len(suffix)]
            if generic == "村" and rest.endswith("嘎查"):
                return rest, suffix
            while rest.endswith(generic + generic):  # 西安村村村民委员会 -> 西安村
                rest = rest[: -len(generic)]
            return (rest if rest.endswith(generic) else rest + generic), suffix
    return name, None


def standard_name(text) -> str:
    """The standard place name to compare: normalised, committee suffix stripped."""
    return strip_suffix(normalize(text))[0]


def rare_characters(name: str) -> list[str]:
    """Han characters of ``name`` outside GB 2312 (the documented stand-in for
    "outside the 通用规范汉字表 level-1/2 set")."""
    if _gb2312(name):
        return []
    return [ch for ch in dict.fromkeys(name) if is_han(ch) and not _gb2312(ch)]


_BRACKETS = re.compile(r"[()\[\]{}（）【】〔〕《》<>「」]")
_LATIN = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"[0-9]")


def nonstandard_reasons(raw, generics: tuple[str, ...]) -> list[str]:
    """Why a roster name is not a standard place name (Chinese, empty when fine).

    Rules (docs/placenames.md): Arabic digits, Latin letters, spaces or brackets in the
    name; a generic doubled before the committee suffix (西安村村村民委员会); a committee
    word left after stripping (…委员会, …委会); no valid generic at the end of the
    standard name (``generics``, e.g. 村、社区、嘎查); nothing left but the generic.
    """
    text = "" if raw is None else str(raw)
    reasons = []
    folded = unicodedata.normalize("NFKC", text)
    if _DIGIT.search(folded):
        reasons.append("含阿拉伯数字")
    if _LATIN.search(folded):
        reasons.append("含拉丁字母")
    if _SPACE.search(text.strip()) or text != text.strip():
        reasons.append("含空格")
    if _BRACKETS.search(folded):
        reasons.append("含括号")
    norm = normalize(text)
    std, suffix = strip_suffix(norm)
    if suffix is not None:
        rest = norm[: -len(suffix)]
        for g in ("村", "社区"):
            if rest.endswith(g + g):
                reasons.append(f"通名“{g}”重复")
                break
    if "委员会" in std or "委会" in std:
        reasons.append("村(居)委会后缀未能规范去除")
    if not any(std.endswith(g) for g in generics):
        reasons.append(f"缺少规范通名（{'、'.join(generics)}）")
    elif any(std == g for g in generics):
        reasons.append("只有通名，没有专名")
    return reasons

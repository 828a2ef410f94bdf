"""Standard place names and homophones, for the merge name check (DOMAIN.md "Place names").

A small local helper on purpose: the name check of a merge needs only "strip the committee
suffix" and "same sound", and must not depend on the place-name analysis.
"""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

# Longest first, so 社区居民委员会 goes before 居民委员会.
_SUFFIXES = ("社区居民委员会", "社区居委会", "村民委员会", "居民委员会", "村委会", "居委会")
_SPACES = re.compile(r"\s+")


def standard_name(name: str | None) -> str:
    """The place name without committee suffixes: 柳溪村村民委员会 -> 柳溪村,
    凤阳社区居民委员会 -> 凤阳社区, 友爱村村民委员会 -> 友爱村."""
    text = _SPACES.sub("", str(name or ""))
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                stem = text[: -len(suffix)]
                if suffix.startswith("社区"):
                    text = stem + "社区"
                elif suffix.startswith("村"):
                    text = stem if stem.endswith("村") else stem + "村"
                else:
                    text = stem
                changed = True
                break
    return text


# Committee suffixes a full committee name may end with (柳溪村村民委员会, 凤阳社区居民委员会).
_COMMITTEE = ("村民委员会", "居民委员会", "村委会", "居委会")


def committee_name(name: str | None) -> str:
    """The full committee name (名册名称) of a village named ``name``.

    A name given with its committee suffix is kept as given; otherwise the standard name
    takes the suffix of its kind: a 村 gets 村民委员会 (柳溪村 -> 柳溪村村民委员会, the form
    of the roster when the place name itself ends in 村), a 社区 gets 居民委员会
    (凤阳社区 -> 凤阳社区居民委员会). A name of neither kind is returned unchanged."""
    text = _SPACES.sub("", str(name or ""))
    if any(text.endswith(s) and len(text) > len(s) for s in _COMMITTEE):
        return text
    std = standard_name(text)
    if std.endswith("社区"):
        return std + "居民委员会"
    if std.endswith("村"):
        return std + "村民委员会"
    return text


def sound(name: str) -> str:
    """Toneless pinyin of a standard name (homophones share it)."""
    return " ".join(lazy_pinyin(standard_name(name), style=Style.NORMAL, errors="default"))


def unit_kind(name: str) -> str | None:
    """``community`` (社区/居委会), ``village`` (村) or ``None`` from a village name."""
    n = standard_name(name)
    if n.endswith(("社区", "居委会")):
        return "community"
    if n.endswith("村"):
        return "village"
    return None


def township_kind(name: str) -> str | None:
    """``subdistrict`` (街道), ``town`` (镇), ``township`` (乡) or ``None``."""
    n = _SPACES.sub("", str(name or ""))
    if n.endswith("街道") or n.endswith("街道办事处"):
        return "subdistrict"
    if n.endswith("镇"):
        return "town"
    if n.endswith("乡"):
        return "township"
    return None

"""Standard names and roman spelling (GB/T 16159) on real roster names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geoservice.analysis.placenames import Romanizer, normalize, standard_name
from geoservice.analysis.placenames.names import nonstandard_reasons, rare_characters
from layers.labels import TableRejected, read_readings

DATA = Path(__file__).resolve().parents[1] / "data" / "placenames"
GENERICS = ("村", "社区", "嘎查")


@pytest.mark.parametrize("raw, std", [
    ("柳溪村村民委员会", "柳溪村"), ("兰沟村民委员会", "兰沟村"), ("杨店村委会", "杨店村"),
    ("杨店村村委会", "杨店村"), ("凤阳社区居委会", "凤阳社区"), ("凤阳社区居民委员会", "凤阳社区"),
    ("凤阳居委会", "凤阳社区"), ("友爱村村民委员会", "友爱村"), ("西安村村村民委员会", "西安村"),
    ("東風村村民委員會", "东风村"), ("东风 村", "东风村"), ("东风村\u3000", "东风村"),
    ("ＡＢ村", "AB村"), ("阿拉坦嘎查村民委员会", "阿拉坦嘎查"), ("柳溪村", "柳溪村"),
])
def test_standard_names(raw, std):
    assert standard_name(raw) == std


def test_normalize_full_width_and_variants():
    assert normalize("１２组") == "12组"
    assert normalize("後溝邨") == "后沟村"


def test_rare_characters_are_outside_gb2312():
    assert rare_characters("垚头村") == ["垚"]
    assert rare_characters("鸿化村") == []


@pytest.mark.parametrize("raw, reason", [
    ("新民2村村委会", "含阿拉伯数字"), ("新民A村村委会", "含拉丁字母"),
    ("新民 村村委会", "含空格"), ("新民村（新）村委会", "含括号"),
    ("西安村村村民委员会", "通名“村”重复"), ("新民管理区", "缺少规范通名"),
    ("新民村委员会", "后缀未能规范去除"),
])
def test_nonstandard_reasons(raw, reason):
    assert any(reason in r for r in nonstandard_reasons(raw, GENERICS))


@pytest.mark.parametrize("raw", ["柳溪村村民委员会", "凤阳社区居民委员会", "阿拉坦嘎查", "新民村"])
def test_standard_names_are_not_nonstandard(raw):
    assert nonstandard_reasons(raw, GENERICS) == []


def _cases():
    return pd.read_csv(DATA / "romanization_cases.csv", dtype=str).to_dict("records")


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["standard_name"])
def test_romanization_of_real_names(case):
    roster = pd.read_csv(DATA / "villages_subset.csv", dtype=str).set_index("code")
    assert roster.loc[case["code"], "name"] == case["roster_name"]  # a real roster row
    std = standard_name(case["roster_name"])
    assert std == case["standard_name"]
    assert Romanizer().romanize(std) == case["pinyin"]


def test_romanization_rules():
    r = Romanizer()
    assert r.romanize("王村", admin=False) == "Wangcun"
    assert r.romanize("汉阳镇") == "Hanyang Zhen"
    assert r.romanize("青竹街道") == "Qingzhu Jiedao"
    assert r.romanize("新民2村") == "Xinmin2 Cun"
    assert r.key("鸿化村") == r.key("洪化村")


def test_user_reading_table_overrides(tmp_path):
    table = tmp_path / "readings.csv"
    table.write_text("词语,读音\n吴堡,wu bao\n", encoding="utf-8")
    assert Romanizer().romanize("吴堡村") == "Wubu Cun"
    assert Romanizer(user_file=table).romanize("吴堡村") == "Wubao Cun"
    bad = tmp_path / "bad.csv"
    bad.write_text("word,pinyin\n吴堡,wu\n", encoding="utf-8")
    with pytest.raises(TableRejected, match="第 2 行"):
        read_readings(bad)
    assert Romanizer(read_readings(table)).romanize("吴堡村") == "Wubao Cun"

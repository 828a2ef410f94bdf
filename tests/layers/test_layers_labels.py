"""The files of the place-name check read by ``layers.labels``: label files in their own
coordinate system, former-name tables and reading tables, rejected with file and row."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from layers import ValidationError, read_layer
from layers import crs as crsmod
from layers.labels import (
    TableRejected,
    own_crs,
    provider_crs,
    read_aliases,
    read_label_file,
    read_readings,
)

SOURCE = Path(__file__).resolve().parents[2] / "layers" / "demo" / "source"
LABELS = SOURCE / "generated" / "place_labels_amap_gcj02.csv"


def test_a_label_file_is_read_in_the_system_its_column_names():
    raw = read_layer(LABELS, "place_labels", crs="EPSG:4490")
    assert own_crs(raw) == crsmod.GCJ02
    own = read_label_file(LABELS, None)
    assert own.geometry.equals(read_label_file(LABELS, "gcj02").geometry)
    shift = own.to_crs(4544).distance(raw.to_crs(4544), align=False)
    assert shift.min() > 100  # GCJ-02 is offset 100-700 m from CGCS2000
    assert provider_crs(own) == crsmod.GCJ02


def test_a_label_file_contradicting_the_chosen_system_is_refused(tmp_path):
    with pytest.raises(ValidationError) as exc:
        read_label_file(LABELS, "bd09")
    problem = exc.value.problems[0]
    assert problem.file == LABELS.name and problem.field == "坐标系"
    assert "GCJ-02" in problem.message and "BD-09" in problem.message
    mixed = tmp_path / "m.csv"
    mixed.write_text(LABELS.read_text(encoding="utf-8-sig").replace("gcj02", "bd09", 3),
                     encoding="utf-8")
    with pytest.raises(ValidationError, match="多种坐标系"):
        read_label_file(mixed, None)


def test_a_label_file_without_a_system_column_gets_the_chosen_one(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("名称,经度,纬度\n柳溪村,103.86,29.85\n", encoding="utf-8")
    assert set(read_label_file(path, "bd09")["crs"]) == {crsmod.BD09}
    assert set(read_label_file(path, None)["crs"]) == {"EPSG:4490"}
    assert provider_crs(read_label_file(path, None)) == "EPSG:4490"


def test_aliases_from_csv_and_xlsx(tmp_path):
    out = read_aliases(SOURCE / "village_aliases.csv")
    assert list(out.columns) == ["code", "former_name"]
    assert ("511425112201", "双河村") in set(zip(out["code"], out["former_name"], strict=True))
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("代码,曾用名\n511425112201,双河村\n".encode("gbk"))
    assert read_aliases(gbk)["former_name"].tolist() == ["双河村"]
    wb = openpyxl.Workbook()
    wb.active.append(["村代码", "旧名"])
    wb.active.append(["511425112201", "双河村"])
    wb.save(tmp_path / "a.xlsx")
    assert read_aliases(tmp_path / "a.xlsx")["code"].tolist() == ["511425112201"]


@pytest.mark.parametrize("name, raw, message", [
    ("a.doc", b"x", "曾用名文件“a.doc”格式不支持：请用 CSV 或 XLSX"),
    ("a.csv", b"", "曾用名文件“a.csv”是空文件"),
    ("a.csv", b"\xff\xfe\x00\x81", "无法读取曾用名文件“a.csv”：文件编码无法识别，请存为 UTF-8 或 GBK 编码的 CSV"),
    ("a.xlsx", b"garbage", "无法读取曾用名文件“a.xlsx”：文件已损坏或不是 XLSX 格式"),
    ("a.csv", "名称,备注\n双河村,x\n".encode(),
     "曾用名文件“a.csv”：曾用名表需要“代码（code）”和“曾用名（former_name）”两列"),
    ("a.csv", "代码,曾用名\n511425112201,双河村\n123,柳溪村\n".encode(),
     "曾用名文件“a.csv”第 3 行：代码“123”不是 12 位村(社区)代码"),
])
def test_bad_aliases_files_name_the_file_and_row(tmp_path, name, raw, message):
    path = tmp_path / "upload.bin"
    path.write_bytes(raw)
    with pytest.raises(TableRejected) as exc:
        read_aliases(path, name)
    assert str(exc.value) == message
    assert exc.value.problems[0].file == name


def test_reading_tables(tmp_path):
    table = tmp_path / "readings.csv"
    table.write_text("词语,读音\n吴堡,wu bao\n绿水,lv shui\n", encoding="utf-8")
    assert read_readings(table) == {"吴堡": ["wu", "bao"], "绿水": ["lü", "shui"]}
    bad = tmp_path / "bad.csv"
    bad.write_text("word,pinyin\n吴堡,wu\n", encoding="utf-8")
    with pytest.raises(TableRejected, match="读音表 bad.csv 第 2 行") as exc:
        read_readings(bad)
    assert exc.value.problems[0].row == 2
    cols = tmp_path / "cols.csv"
    cols.write_text("a,b\n吴堡,wu bao\n", encoding="utf-8")
    with pytest.raises(TableRejected, match="需要 word（词语）和 pinyin（读音）两列"):
        read_readings(cols)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("词语,读音\n吴堡,wu bao\n".encode("gbk"))
    with pytest.raises(TableRejected, match="编码"):
        read_readings(gbk)

"""OD matrices from elsewhere (issue 15): reading the file, binding it to the layers, and
the costs it gives, checked against hand-written expectations and hand computation."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import openpyxl
import pytest

from geoservice.analysis.cost import CostSpec, StraightCosts
from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.odmatrix import (
    MatrixCosts,
    MatrixSource,
    matrix_costs,
    read_od_matrix,
)

V = ["511425102201", "511425102202", "511425102203", "511425102204"]
FACILITIES = ["城关敬老院", "河坝互助站", "高庙幸福院"]
CANDIDATES = ["候选甲", "候选乙"]


def write_csv(path, rows, encoding="utf-8-sig"):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(path, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(list(r))
    wb.save(path)
    return path


def problem_text(exc) -> str:
    return str(exc.value)


# --- reading ---------------------------------------------------------------------------------

ROWS = [(V[0], FACILITIES[0], 1200), (V[0], FACILITIES[1], 3400.5),
        (V[1], FACILITIES[1], 800), (V[2], CANDIDATES[0], 0)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("header", [("村代码", "设施", "距离"),
                                    ("Origin", " destination ", "COST"),
                                    ("村(社区)代码", "候选点", "距离（米）"),
                                    ("from", "to", "metres")])
def test_read_headers_and_formats(tmp_path, fmt, header):
    rows = [header] + [(o, d, c) for o, d, c in ROWS]
    path = (write_csv(tmp_path / "od.csv", rows) if fmt == "csv"
            else write_xlsx(tmp_path / "od.xlsx", rows))
    t = read_od_matrix(path, unit="m")
    assert t.name == path.name and t.unit == "m" and len(t) == 4
    assert list(t.origin) == [r[0] for r in ROWS]
    assert list(t.destination) == [r[1] for r in ROWS]
    assert t.cost.tolist() == [1200.0, 3400.5, 800.0, 0.0]
    assert t.line.tolist() == [2, 3, 4, 5]
    assert t.fields == tuple(h.strip() for h in header)
    assert t.spec() == CostSpec(kind="matrix", unit="m", matrix_name=path.name)


def test_xlsx_codes_written_as_numbers_come_back_as_twelve_digits(tmp_path):
    path = write_xlsx(tmp_path / "od.xlsx", [
        ("起点", "终点", "出行时间"),
        (511425102201, "城关敬老院", 12),             # an integer cell
        (511425102202.0, "河坝互助站", 7.5),          # a float cell
        (5.11425102203e11, 511425102204, 3),          # a float cell; a name that is a code
    ])
    t = read_od_matrix(path, "上传的矩阵.xlsx", unit="min")
    assert t.name == "上传的矩阵.xlsx"
    assert list(t.origin) == ["511425102201", "511425102202", "511425102203"]
    assert list(t.destination) == ["城关敬老院", "河坝互助站", "511425102204"]
    for code in list(t.origin) + [t.destination[2]]:
        assert len(code) == 12 and code.isdigit()


def test_csv_codes_written_by_excel_as_numbers(tmp_path):
    path = write_csv(tmp_path / "od.csv", [("村代码", "设施", "时间"),
                                           ("511425102201.0", "A", "1"),
                                           ("5.11425102202E+11", "B", "2")])
    t = read_od_matrix(path, unit="min")
    assert list(t.origin) == ["511425102201", "511425102202"]


def test_gbk_csv(tmp_path):
    path = write_csv(tmp_path / "od.csv", [("村代码", "设施名称", "通行时间"),
                                           (V[0], "城关敬老院", "12.5"),
                                           (V[1], "高庙幸福院", "1,030")], encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really not UTF-8
    t = read_od_matrix(path, unit="min")
    assert list(t.destination) == ["城关敬老院", "高庙幸福院"]
    assert t.cost.tolist() == [12.5, 1030.0]
    assert t.fields == ("村代码", "设施名称", "通行时间")


def test_blank_rows_keep_the_row_numbers_a_spreadsheet_shows(tmp_path):
    path = tmp_path / "od.csv"
    path.write_text("村代码,设施,距离\n511425102201,A,1\n\n511425102202,B,x\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(path, unit="m")
    assert "od.csv，第 4 行，字段“距离”：成本不是数字（“x”）" in problem_text(exc)
    xlsx = write_xlsx(tmp_path / "od.xlsx", [("村代码", "设施", "距离"), (V[0], "A", 1),
                                             (None, None, None), (V[1], "B", "x")])
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(xlsx, unit="m")
    assert "od.xlsx，第 4 行，字段“距离”：成本不是数字（“x”）" in problem_text(exc)


@pytest.mark.parametrize("unit", ["km", "", None, "minutes", "h"])
def test_unit_is_given_never_guessed(tmp_path, unit):
    path = write_csv(tmp_path / "od.csv", [("村代码", "设施", "距离"), (V[0], "A", 1)])
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(path, unit=unit)
    assert exc.value.name == "cost_unit"
    assert "参数 cost_unit（成本单位）应为 m（米）或 min（分钟）" in problem_text(exc)


@pytest.mark.parametrize("header,unit,says", [
    ("时间（分钟）", "m", "成本列“时间（分钟）”的单位是分钟，与参数 cost_unit 给出的米（m）不符"),
    ("minutes", "m", "成本列“minutes”的单位是分钟"),
    ("距离(km)", "m", "成本列“距离(km)”的单位是公里，与参数 cost_unit 给出的米（m）不符；请先换算为米或分钟"),
    ("metres", "min", "成本列“metres”的单位是米，与参数 cost_unit 给出的分钟（min）不符"),
])
def test_a_header_naming_another_unit_is_refused(tmp_path, header, unit, says):
    path = write_csv(tmp_path / "od.csv", [("村代码", "设施", header), (V[0], "A", 1)])
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(path, unit=unit)
    assert exc.value.name == "cost_unit"
    assert says in problem_text(exc)


def test_missing_columns_are_named(tmp_path):
    path = write_csv(tmp_path / "od.csv", [("村代码", "名称", "里程"), (V[0], "A", 1)])
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(path, unit="m")
    text = problem_text(exc)
    assert exc.value.name == "cost_matrix"
    assert "OD 矩阵“od.csv”不能使用" in text
    assert "缺少列：终点设施或候选点名称（设施 / 候选点 / destination）、成本（距离 / 时间 / cost）" in text
    assert "起点村代码" not in text


def test_two_cost_columns_are_refused(tmp_path):
    path = write_csv(tmp_path / "od.csv", [("村代码", "设施", "距离", "时间"), (V[0], "A", 1, 2)])
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(path, unit="m")
    assert "有多列都可作为成本（距离 / 时间 / cost）：“距离”“时间”；请只保留一列" in problem_text(exc)


@pytest.mark.parametrize("row,says", [
    (("", "A", "1"), "第 2 行，字段“村代码”：起点村代码为空"),
    ((V[0], " ", "1"), "第 2 行，字段“设施”：终点名称为空"),
    ((V[0], "A", ""), "第 2 行，字段“距离”：成本为空"),
    ((V[0], "A", "12米"), "第 2 行，字段“距离”：成本不是数字（“12米”）"),
    ((V[0], "A", "-3"), "第 2 行，字段“距离”：成本不能为负数（“-3”）"),
    ((V[0], "A", "inf"), "第 2 行，字段“距离”：成本不是有限的数（“inf”）"),
    ((V[0], "A", "NaN"), "第 2 行，字段“距离”：成本不是有限的数（“NaN”）"),
])
def test_each_row_problem_names_file_row_and_field(tmp_path, row, says):
    path = write_csv(tmp_path / "od.csv", [("村代码", "设施", "距离"), row, (V[1], "B", "5")])
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(path, unit="m")
    assert exc.value.name == "cost_matrix"
    assert f"od.csv，{says}" in problem_text(exc)
    assert len(exc.value.problems) == 1


def test_duplicate_pair_names_both_rows(tmp_path):
    path = write_csv(tmp_path / "od.csv", [("村代码", "设施", "距离"), (V[0], "A", 1),
                                           (V[1], "A", 2), (V[0], "A", 3)])
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(path, unit="m")
    assert ("od.csv，第 4 行，字段“村代码、设施”：起点与终点重复：与第 2 行是同一对起点和终点"
            f"（“{V[0]} → A”）") in problem_text(exc)


def test_every_problem_is_listed_at_once(tmp_path):
    path = write_csv(tmp_path / "od.csv", [
        ("村代码", "设施", "距离"), (V[0], "A", "x"), ("", "B", "1"), (V[0], "C", "-1"),
        (V[1], "", "y"), (V[0], "A", "2")])
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(path, unit="m")
    got = sorted((p.row, p.field, p.message) for p in exc.value.problems)
    assert got == [
        (2, "距离", "成本不是数字"),
        (3, "村代码", "起点村代码为空"),
        (4, "距离", "成本不能为负数"),
        (5, "设施", "终点名称为空"),
        (5, "距离", "成本不是数字"),
        (6, "村代码、设施", "起点与终点重复：与第 2 行是同一对起点和终点"),
    ]
    text = problem_text(exc)
    assert "共 6 处问题" in text
    # identical defects on many rows read as one line with their rows
    assert "od.csv，2 行，字段“距离”：成本不是数字（第 2、5 行）" in text


def test_many_problems_are_capped_in_the_message(tmp_path):
    rows = [("村代码", "设施", "距离")] + [(V[0], f"设施{k}", "-1" if k % 2 else "x")
                                            for k in range(400)]
    rows += [(V[1], f"设施{k}", 1) for k in range(100)] + [(V[1], f"设施{k}", 1)
                                                           for k in range(100)]
    path = write_csv(tmp_path / "od.csv", rows)
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(path, unit="m")
    assert len(exc.value.problems) == 500
    lines = problem_text(exc).splitlines()
    assert "共 500 处问题" in lines[0]
    assert len(lines) == 1 + 50 + 1 and "另有" in lines[-1]


def test_unsupported_or_broken_files(tmp_path):
    path = tmp_path / "od.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(path, unit="m")
    assert "OD 矩阵格式不支持：请用 CSV 或 XLSX" in problem_text(exc)
    bad = tmp_path / "od.xlsx"
    bad.write_bytes(b"not a workbook")
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(bad, unit="m")
    assert "文件已损坏或不是 XLSX 格式" in problem_text(exc)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInput) as exc:
        read_od_matrix(empty, unit="m")
    assert "OD 矩阵是空文件" in problem_text(exc)


# --- binding to the layers -----------------------------------------------------------------

def table_of(tmp_path, rows, unit="m"):
    return read_od_matrix(write_csv(tmp_path / "od.csv", [("村代码", "设施", "距离")] + rows),
                          unit=unit)


SETS = {"facilities": np.array(FACILITIES, dtype=object),
        "candidates": np.array(CANDIDATES, dtype=object)}


def test_unknown_codes_and_names_are_errors_with_row_and_field(tmp_path):
    t = table_of(tmp_path, [(V[0], FACILITIES[0], 1), ("511425102299", FACILITIES[0], 2),
                            (V[1], "不存在的院", 3)])
    with pytest.raises(InvalidInput) as exc:
        matrix_costs(t, V, SETS)
    text = problem_text(exc)
    assert exc.value.name == "cost_matrix"
    assert "OD 矩阵“od.csv”与图层不符，共 2 处问题" in text
    assert "od.csv，第 3 行，字段“村代码”：村(社区)图层中没有这个代码（“511425102299”）" in text
    assert "od.csv，第 4 行，字段“设施”：在设施图层、候选点中找不到这个名称（“不存在的院”）" in text


def test_a_name_not_unique_in_its_layer_is_an_error_naming_layer_and_name(tmp_path):
    t = table_of(tmp_path, [(V[0], "河坝互助站", 1), (V[1], "候选乙", 2)])
    facilities = np.array(["城关敬老院", "河坝互助站", "河坝互助站"], dtype=object)
    with pytest.raises(InvalidInput) as exc:
        matrix_costs(t, V, {"facilities": facilities, "candidates": SETS["candidates"]})
    assert len(exc.value.problems) == 1
    assert ("od.csv，第 2 行，字段“设施”：名称在设施图层中不唯一（设施图层中有 2 个同名），"
            "无法确定是哪一个（“河坝互助站”）") in problem_text(exc)
    # the same duplicate unused by the matrix is no problem
    t2 = table_of(tmp_path, [(V[0], "城关敬老院", 1)])
    assert matrix_costs(t2, V, {"facilities": facilities}).dense("facilities").shape == (4, 3)


def test_village_codes_repeated_in_the_layer_and_used_are_errors(tmp_path):
    villages = [V[0], V[1], V[1], V[2], V[2]]
    t = table_of(tmp_path, [(V[0], FACILITIES[0], 1), (V[1], FACILITIES[0], 2)])
    with pytest.raises(InvalidInput) as exc:
        matrix_costs(t, villages, SETS)
    assert len(exc.value.problems) == 1
    assert ("od.csv，第 3 行，字段“村代码”：代码在村(社区)图层中不唯一（有 2 个村(社区)用这个代码），"
            f"无法确定是哪一个（“{V[1]}”）") in problem_text(exc)
    # V[2] is repeated too but the matrix does not use it
    t2 = table_of(tmp_path, [(V[0], FACILITIES[0], 1)])
    assert matrix_costs(t2, villages, SETS).size("facilities") == 3


def test_unit_of_the_spec_must_be_the_tables(tmp_path):
    t = table_of(tmp_path, [(V[0], FACILITIES[0], 1)], unit="min")
    with pytest.raises(InvalidInput) as exc:
        matrix_costs(t, V, SETS, CostSpec(kind="matrix", unit="m"))
    assert exc.value.name == "cost_unit"


# the hand-written example: 4 villages, 3 facilities, 2 candidates
EXAMPLE = [
    (V[0], "城关敬老院", 1200), (V[0], "河坝互助站", 900), (V[0], "候选甲", 300),
    (V[1], "河坝互助站", 500), (V[1], "高庙幸福院", 500), (V[1], "候选乙", 2500),
    (V[2], "高庙幸福院", 4000),
    # V[3] reaches nothing
]
FAC_COST = {(0, 0): 1200.0, (0, 1): 900.0, (1, 1): 500.0, (1, 2): 500.0, (2, 2): 4000.0}
CAND_COST = {(0, 0): 300.0, (1, 1): 2500.0}


@pytest.fixture
def example(tmp_path) -> MatrixCosts:
    return matrix_costs(table_of(tmp_path, EXAMPLE), V, SETS)


def triples(res):
    i, j, c = res
    return list(zip(i.tolist(), j.tolist(), c.tolist(), strict=True))


def test_within_nearest_dense_against_the_hand_written_example(example):
    assert example.size("facilities") == 3 and example.size("candidates") == 2
    assert triples(example.within("facilities", 1000)) == [
        (0, 1, 900.0), (1, 1, 500.0), (1, 2, 500.0)]
    assert triples(example.within("facilities", 1200)) == [
        (0, 0, 1200.0), (0, 1, 900.0), (1, 1, 500.0), (1, 2, 500.0)]
    assert triples(example.within("facilities", math.inf)) == [
        (i, j, c) for (i, j), c in sorted(FAC_COST.items())]
    assert triples(example.within("candidates", 5000)) == [
        (i, j, c) for (i, j), c in sorted(CAND_COST.items())]
    d, idx = example.nearest("facilities")
    # village 1: a tie at 500 m goes to the lower position; village 3 reaches nothing
    assert d.tolist() == [900.0, 500.0, 4000.0, math.inf]
    assert idx.tolist() == [1, 1, 2, -1]
    dense = example.dense("facilities")
    expected = np.full((4, 3), np.inf)
    for (i, j), c in FAC_COST.items():
        expected[i, j] = c
    np.testing.assert_array_equal(dense, expected)
    kd, ki = example.knearest("facilities", 2)
    assert kd.tolist() == [[900.0, 1200.0], [500.0, 500.0], [4000.0, math.inf],
                           [math.inf, math.inf]]
    assert ki.tolist() == [[1, 0], [1, 2], [2, 3], [3, 3]]
    desc = example.describe()
    assert desc["kind"] == "matrix" and desc["unit"] == "m" and desc["matrix"] == "od.csv"
    assert desc["matrix_rows"] == 7 and desc["matrix_pairs"] == {"facilities": 5,
                                                                 "candidates": 2}
    assert "OD 矩阵“od.csv”的出行成本（米）" == desc["label"]


def test_absent_pairs_are_unreachable(example):
    dense = example.dense("candidates")
    assert np.isinf(dense[2]).all() and np.isinf(dense[3]).all()
    assert dense[0, 1] == math.inf and dense[1, 0] == math.inf
    d, idx = example.nearest("candidates")
    assert d.tolist() == [300.0, 2500.0, math.inf, math.inf]
    assert idx.tolist() == [0, 1, -1, -1]


def test_cols_restricts_the_set_and_indexes_by_position_in_cols(example):
    cols = [2, 0]  # 高庙幸福院 then 城关敬老院
    assert example.size("facilities", cols) == 2
    assert triples(example.within("facilities", 5000, cols)) == [
        (0, 1, 1200.0), (1, 0, 500.0), (2, 0, 4000.0)]
    d, idx = example.nearest("facilities", cols)
    assert d.tolist() == [1200.0, 500.0, 4000.0, math.inf]
    assert idx.tolist() == [1, 0, 0, -1]
    dense = example.dense("facilities", np.array(cols))
    assert dense.tolist() == [[math.inf, 1200.0], [500.0, math.inf], [4000.0, math.inf],
                              [math.inf, math.inf]]
    assert example.dense("facilities", []).shape == (4, 0)
    i, j, c = example.within("facilities", 5000, [])
    assert len(i) == len(j) == len(c) == 0
    assert example.nearest("facilities", [])[1].tolist() == [-1] * 4


def test_a_name_in_both_sets_is_one_place(tmp_path):
    t = table_of(tmp_path, [(V[0], "城关敬老院", 700), (V[1], "候选乙", 100)])
    costs = matrix_costs(t, V, {"facilities": np.array(FACILITIES, dtype=object),
                                "candidates": np.array(["候选乙", "城关敬老院"], dtype=object)})
    assert triples(costs.within("facilities", 1000)) == [(0, 0, 700.0)]
    assert triples(costs.within("candidates", 1000)) == [(0, 1, 700.0), (1, 0, 100.0)]


def test_candidates_at_the_village_centres_are_named_by_village_code(tmp_path):
    path = write_xlsx(tmp_path / "od.xlsx", [("origin", "destination", "minutes")] + [
        (int(V[0]), int(V[0]), 0), (int(V[0]), int(V[1]), 12), (int(V[1]), int(V[1]), 0),
        (int(V[2]), int(V[1]), 25), (int(V[3]), "河坝互助站", 40)])
    t = read_od_matrix(path, unit="min")
    costs = matrix_costs(t, V, {"facilities": np.array(FACILITIES, dtype=object),
                                "candidates": np.array(V, dtype=object)})
    assert triples(costs.within("candidates", 30)) == [
        (0, 0, 0.0), (0, 1, 12.0), (1, 1, 0.0), (2, 1, 25.0)]
    assert triples(costs.within("facilities", 60)) == [(3, 1, 40.0)]
    assert costs.unit == "min" and not costs.straight


def test_matrix_source_binds_by_codes_and_names(tmp_path):
    t = table_of(tmp_path, EXAMPLE)
    source = MatrixSource(t)
    assert source.spec == t.spec() and not source.spec.straight
    xy = np.zeros((4, 2))
    costs = source.bind(xy, {"facilities": np.zeros((3, 2)), "candidates": np.zeros((2, 2))},
                        crs="EPSG:4545", origin_codes=np.array(V, dtype=object),
                        names={"facilities": FACILITIES, "candidates": CANDIDATES})
    assert isinstance(costs, MatrixCosts)
    assert triples(costs.within("facilities", math.inf)) == [
        (i, j, c) for (i, j), c in sorted(FAC_COST.items())]
    with pytest.raises(InvalidInput) as exc:
        source.bind(xy, {"facilities": np.zeros((3, 2))}, origin_codes=V, names={})
    assert "OD 矩阵需要设施图层的名称" in problem_text(exc)


# --- invariance: what an analysis computes from the matrix equals the hand computation ------

def test_coverage_from_the_matrix_equals_the_hand_computation(tmp_path):
    rng = np.random.default_rng(15)
    n, m = 40, 7
    codes = [f"5114251{k:05d}" for k in range(1, n + 1)]
    names = [f"设施{k}" for k in range(m)]
    elderly = rng.integers(10, 300, n)
    rows = []
    for i in range(n):
        for j in range(m):
            if rng.random() < 0.6:  # the rest of the pairs are absent: unreachable
                rows.append((codes[i], names[j], int(rng.integers(0, 60))))
    order = rng.permutation(len(rows))
    rows = [rows[k] for k in order]  # any row order
    t = read_od_matrix(write_csv(tmp_path / "od.csv", [("起点", "终点", "时间")] + rows),
                       unit="min")
    costs = matrix_costs(t, codes, {"facilities": np.array(names, dtype=object)})

    # by hand from the rows
    cost = {(codes.index(o), names.index(d)): float(c) for o, d, c in rows}
    for cutoff in (0, 15, 30, 45):
        want = sorted((i, j, c) for (i, j), c in cost.items() if c <= cutoff)
        assert triples(costs.within("facilities", cutoff)) == want
        covered = {i for i, _, _ in want}
        share = sum(int(elderly[i]) for i in covered) / int(elderly.sum())
        i_got = costs.within("facilities", cutoff)[0]
        assert elderly[np.unique(i_got)].sum() / elderly.sum() == share
    d, idx = costs.nearest("facilities")
    for i in range(n):
        reach = sorted((c, j) for (ii, j), c in cost.items() if ii == i)
        if reach:
            assert (d[i], idx[i]) == reach[0]
        else:
            assert (d[i], idx[i]) == (math.inf, -1)
    chosen = [5, 1, 3]
    d, idx = costs.nearest("facilities", chosen)
    for i in range(n):
        reach = sorted((cost[i, j], k) for k, j in enumerate(chosen) if (i, j) in cost)
        assert (d[i], idx[i]) == (reach[0] if reach else (math.inf, -1))


def test_a_matrix_of_straight_distances_gives_the_straight_answers(tmp_path):
    """An OD matrix written from another cost gives that cost's answers (issue 15: "an OD
    matrix path gives the same answers as the network that produced it")."""
    rng = np.random.default_rng(7)
    n, m = 30, 6
    origins = rng.uniform(0, 20_000, (n, 2))
    places = {"facilities": rng.uniform(0, 20_000, (m, 2)),
              "candidates": rng.uniform(0, 20_000, (m + 2, 2))}
    straight = StraightCosts(origins, places)
    codes = [f"5114251{k:05d}" for k in range(1, n + 1)]
    names = {"facilities": [f"院{k}" for k in range(m)],
             "candidates": [f"点{k}" for k in range(m + 2)]}
    rows = [("村代码", "目的地", "距离")]
    for to, xy in places.items():
        dense = straight.dense(to)
        rows += [(codes[i], names[to][j], repr(float(dense[i, j])))
                 for i in range(n) for j in range(len(xy))]
    t = read_od_matrix(write_csv(tmp_path / "od.csv", rows), unit="m")
    matrix = matrix_costs(t, codes, {to: np.array(v, dtype=object) for to, v in names.items()})
    for to in places:
        for cols in (None, [4, 0, 2]):
            for cutoff in (2000.0, 5000.0, 9000.0):
                a, b = straight.within(to, cutoff, cols), matrix.within(to, cutoff, cols)
                np.testing.assert_array_equal(a[0], b[0])
                np.testing.assert_array_equal(a[1], b[1])
                np.testing.assert_allclose(a[2], b[2], rtol=1e-12)
            ds, js = straight.nearest(to, cols)
            dm, jm = matrix.nearest(to, cols)
            np.testing.assert_array_equal(js, jm)
            np.testing.assert_allclose(ds, dm, rtol=1e-12)
            np.testing.assert_array_equal(straight.dense(to, cols), matrix.dense(to, cols))

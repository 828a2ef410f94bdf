"""`python -m geoservice print <analysis>` as a user runs it: a PDF or PNG written, paper
options and the format from the file name, Chinese errors."""

from __future__ import annotations

import shutil
import subprocess

from fixtures import run_cli as run


def test_print_coverage_a3_pdf(demo_workspace, tmp_path):
    out = tmp_path / "覆盖.pdf"
    r = run("--workspace", demo_workspace, "print", "coverage", "--layer", "welfare_homes",
            "--radius", "5000", "--paper", "A3", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "已写出地图" in r.stderr and "A3 横向" in r.stderr
    assert out.read_bytes().startswith(b"%PDF")
    text = subprocess.run([shutil.which("pdftotext"), str(out), "-"], capture_output=True,
                          check=True).stdout.decode("utf-8")
    assert "福利院" in text and "服务半径 5,000 米" in text and "图例" in text


def test_print_siting_png_from_the_suffix(demo_workspace, tmp_path):
    out = tmp_path / "选址.png"
    r = run("--workspace", demo_workspace, "print", "siting", "--layer",
            "elderly_service_points", "--add", "2", "--orientation", "portrait", "--dpi", "80",
            "--bbox", "103.70,29.70,104.05,29.98", "--title", "选址建议（讨论稿）", "--out", out)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG")
    from PIL import Image

    with Image.open(out) as img:
        assert img.size == (int(210 / 25.4 * 80), int(297 / 25.4 * 80))


def test_print_errors_are_chinese(demo_workspace, tmp_path):
    r = run("--workspace", demo_workspace, "print", "coverage", "--paper", "B5",
            "--out", tmp_path / "a.pdf")
    assert r.returncode == 1 and "参数 paper（纸张）“B5”无效" in r.stderr
    r = run("--workspace", demo_workspace, "print", "boundaries", "--out", tmp_path / "a.txt")
    assert r.returncode == 1 and ".pdf 或 .png" in r.stderr
    r = run("--workspace", demo_workspace, "print", "placenames", "--out",
            tmp_path / "no" / "dir" / "a.pdf")
    assert r.returncode == 1 and "无法写出" in r.stderr
    r = run("print", "--help")
    assert r.returncode == 0 and "coverage" in r.stdout and "placenames" in r.stdout

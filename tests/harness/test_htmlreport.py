"""The HTML reports of a bisect and of a comparison, and the perf gate's report files.

Hand-made runs and scorecards (no Docker). The pages are parsed for what they must hold and for
anything that would load from outside the file; then a real headless Chromium renders them: the
DOM it ends with (`--dump-dom`) must show the culprit's sha and the page's own check that the
chart image decoded, and the screenshot must be a real picture. A page with a chart that does not
decode is rendered too, to see that check say no.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from harness.bisect_report import bisect_command, write_reports
from harness.compare_report import write_compare_reports
from harness.config import parse_config
from harness.gate import write_gate_reports
from harness.report import scorecard_json, scorecard_markdown
from harness.scorecard import Scorecard, score
from tests.bisect.test_report import (
    COMMITS,
    a_run,
    build_result,
    latency_result,
    size_result,
)
from tests.harness.test_formats import BMF, FIGURES, GAB, parse, result

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WINDOW = (1100, 1800)


class Page(HTMLParser):
    """What a test needs from a page: every URL-bearing attribute, the images, the text of
    elements by class, and the data rows of each table."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.by_class: dict[str, list[str]] = {}
        self.tables: list[int] = []  # data rows per table
        self.body: dict[str, str | None] = {}
        self._open: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "action", "data")]
        if tag == "img":
            self.images.append(a)
        if tag == "body":
            self.body = a
        if tag == "table":
            self.tables.append(0)
        if tag == "tr" and self.tables:
            self.tables[-1] += 1
        self._open = (a.get("class") or "").split()

    def handle_data(self, data: str) -> None:
        for cls in self._open:
            self.by_class.setdefault(cls, []).append(data)
        self._open = []


def the_run():
    return a_run(size_result(), latency_result(), build_result())


def a_card() -> Scorecard:
    return score(result("a"), result("b", scale=2.0), parse_config("", Path("/tmp")))


def test_bisect_page_is_self_contained_and_has_everything(tmp_path: Path) -> None:
    run = the_run()
    paths = write_reports(run, tmp_path)
    assert paths["html"].name == paths["md"].name.replace(".md", ".html")
    text = paths["html"].read_text()
    page = Page(text)
    assert page.urls and all(u.startswith("data:image/png;base64,") for u in page.urls)
    outside = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    assert not re.search(r"//[a-z]|url\(|@import", outside, re.I)  # nothing fetched from anywhere
    assert "Content-Security-Policy\" content=\"default-src 'none'; img-src data:;" in text
    (img,) = page.images
    assert base64.b64decode((img["src"] or "").split(",", 1)[1]) == paths["png"].read_bytes()
    assert set(page.by_class["culprit-sha"]) == {COMMITS[3], COMMITS[6]}
    probes = Page(text[text.index('<table class="probes">') :]).tables[0]
    assert probes == 1 + 12  # header and every probe of every check
    assert bisect_command(run) in text.replace("&#x27;", "'")
    for culprit in ("--check size --good", "--check latency --good"):
        assert f"harness check {COMMITS[3 if 'size' in culprit else 6][:12]} {culprit}" in text
    assert "warm median 200 ms vs 100 ms" in text  # the confirmation's evidence
    assert page.body == {"data-charts-loaded": "pending"}  # set by the page's script on load


def test_compare_page_and_files(tmp_path: Path) -> None:
    card = a_card()
    paths = write_compare_reports(card, tmp_path, reproduce=["harness compare a b --repo ."])
    assert {k: p.name for k, p in paths.items()} == {
        "md": f"compare-{'a' * 12}-{'b' * 12}.md",
        "json": f"compare-{'a' * 12}-{'b' * 12}.json",
        "html": f"compare-{'a' * 12}-{'b' * 12}.html",
    }
    text = paths["html"].read_text()
    page = Page(text)
    assert len(page.images) == 1 and all(u.startswith("data:image/png") for u in page.urls)
    assert page.by_class["culprit-sha"] == ["b" * 40]  # twice the size: the candidate is worse
    assert "<li><b>image size</b>: 2.00 GB &rarr; 4.00 GB" in text  # the worse row, up top
    assert page.by_class["worse"] == ["worse"]  # and its verdict in the table of every metric
    samples = Page(text[text.index('<table class="probes">') :]).tables[0]
    assert samples == 1 + 3  # header and the three warm samples of each side, side by side
    assert "harness compare a b --repo ." in text
    assert "local vs local" in text  # the engines each side ran on
    assert paths["md"].read_text() == scorecard_markdown(card)


def test_gate_reports_in_every_format(tmp_path: Path) -> None:
    card = a_card()
    paths = write_gate_reports(card, tmp_path, "reference-cpu", "/src/my worker")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "perf-gate.md",
            "perf-gate.json",
            "perf-gate.html",
            "perf-gate.github-action-benchmark.json",
            "perf-gate.bmf.json",
        ]
    )
    assert paths["md"].read_text() == scorecard_markdown(card)  # the job summary, as before
    assert json.loads(paths["json"].read_text()) == json.loads(scorecard_json(card))
    entries = GAB.validate_python(parse(paths["github-action-benchmark"].read_text()))
    assert {e.name for e in entries} == FIGURES
    assert all(e.extra and "baseline aaaaaaaaaaaa" in e.extra for e in entries)
    bmf = BMF.validate_python(parse(paths["bmf"].read_text()))
    assert bmf["request/warm_p50"]["seconds"].value == 1.0
    html = paths["html"].read_text()
    assert f"harness compare reference-cpu {'b' * 12} --repo &#x27;/src/my worker&#x27;" in html


# ---- in a real browser


def render(page: Path, out: Path, screenshot: bool = True) -> tuple[str, Path]:
    """(the DOM after load, a screenshot) of `page` in headless Chromium."""
    if CHROMIUM is None:
        if os.environ.get("HARNESS_TESTS_REQUIRE_DOCKER") == "1":  # CI: setup installs it
            pytest.fail("no chromium: `bash scripts/setup.sh --tests` installs it")
        pytest.skip("no chromium (apt-get install chromium)")
    base = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--hide-scrollbars", f"--user-data-dir={out / 'profile'}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}", "--virtual-time-budget=5000",
    ]  # fmt: skip
    url = page.resolve().as_uri()
    dom = subprocess.run(
        [*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    shot = out / "screenshot.png"
    if screenshot:
        subprocess.run(
            [*base, f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True
        )
    return dom, shot


def looks_drawn(shot: Path) -> None:
    with Image.open(shot) as png:
        assert png.format == "PNG" and png.size == WINDOW
        rgb = png.convert("RGB")
        assert max(ImageStat.Stat(rgb).stddev) > 10  # not a blank page
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert any(r > 150 and g < 60 and b < 60 for _, (r, g, b) in colours)  # red verdicts


def test_bisect_page_in_headless_chromium(tmp_path: Path) -> None:
    paths = write_reports(the_run(), tmp_path / "results")
    dom, shot = render(paths["html"], tmp_path)
    page = Page(dom)
    assert page.body.get("data-charts-loaded") == "yes"
    assert [img.get("data-loaded") for img in page.images] == ["yes"]
    assert COMMITS[3] in page.by_class["culprit-sha"]
    looks_drawn(shot)


def test_compare_page_in_headless_chromium(tmp_path: Path) -> None:
    paths = write_compare_reports(a_card(), tmp_path / "results", reproduce=["harness compare"])
    dom, shot = render(paths["html"], tmp_path)
    page = Page(dom)
    assert page.body.get("data-charts-loaded") == "yes"
    assert page.by_class["culprit-sha"] == ["b" * 40]
    looks_drawn(shot)


def test_a_chart_that_does_not_decode_is_caught(tmp_path: Path) -> None:
    """The page's own check is not a rubber stamp: a broken image makes it say no."""
    html = write_reports(the_run(), tmp_path / "results")["html"]
    broken = tmp_path / "broken.html"
    text = html.read_text()
    broken.write_text(re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,bm90IGEgcG5n", text))
    page = Page(render(broken, tmp_path, screenshot=False)[0])
    assert page.body.get("data-charts-loaded") == "no"
    assert [img.get("data-loaded") for img in page.images] == ["no"]

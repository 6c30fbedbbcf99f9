"""The picture of a flow: valid SVG, a box per node, no boxes on top of each other."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from hotline.ivr import flow_to_svg, load_flow

from .conftest import TEST_FLOWS

SVG = "{http://www.w3.org/2000/svg}"


def boxes(root: ET.Element) -> dict[str, tuple[float, float, float, float]]:
    found = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node":
            rect = group.find(f"{SVG}rect")
            found[group.get("id").removeprefix("node-")] = tuple(
                float(rect.get(name)) for name in ("x", "y", "width", "height")
            )
    return found


@pytest.mark.parametrize("language", ["nl", "fr", "en"])
def test_the_leuven_picture_is_svg_with_a_box_per_node(leuven, language):
    root = ET.fromstring(flow_to_svg(leuven, language))
    assert root.tag == f"{SVG}svg"
    assert set(boxes(root)) == set(leuven.nodes)


def test_boxes_never_overlap(leuven):
    placed = list(boxes(ET.fromstring(flow_to_svg(leuven))).items())
    for index, (name, (x, y, width, height)) in enumerate(placed):
        for other, (x2, y2, width2, height2) in placed[index + 1 :]:
            apart = x + width <= x2 or x2 + width2 <= x or y + height <= y2 or y2 + height2 <= y
            assert apart, f"{name} overlaps {other}"


def test_arrows_are_labelled_with_the_keys_that_take_them(leuven):
    root = ET.fromstring(flow_to_svg(leuven))
    labels = {
        text.text
        for group in root.iter(f"{SVG}g")
        if group.get("class") == "edge-label"
        for text in group.iter(f"{SVG}text")
    }
    assert {"1, 2, 3", "1, 2, 3, 4, 5, 6", "received", "unavailable", "yes", "no"} <= labels
    edges = [path for path in root.iter(f"{SVG}path") if path.get("class") == "edge"]
    assert len(edges) >= len(leuven.nodes) - 1


def test_prompts_are_shown_in_the_chosen_language(leuven):
    assert "Toets uw postcode." in flow_to_svg(leuven, "nl")
    assert "Please key in your postcode." in flow_to_svg(leuven, "en")


def test_text_from_the_flow_file_is_escaped(tmp_path):
    source = (TEST_FLOWS / "minimal.toml").read_text(encoding="utf-8")
    flow_file = tmp_path / "escaped.toml"
    flow_file.write_text(
        source.replace('name = "Kapot"', 'name = "Kapot & <Co>"').replace(
            '"Tot ziens."', '"Tot ziens <script>alert(1)</script> & dag"'
        ),
        encoding="utf-8",
    )
    svg = flow_to_svg(load_flow(flow_file))
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == "Kapot & <Co>"
    assert "<script>" not in svg

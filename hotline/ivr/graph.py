"""Draw a flow as a self-contained SVG picture: one box per node, an arrow per way out.

A layered layout without graphviz. A node's column is its distance from the
start; boxes are stacked in their column, so boxes never overlap. An arrow to
the next column crosses only the gap between them; any other arrow runs in a
lane of its own above (going back) or below (skipping columns) all boxes, so no
arrow crosses a box. Labels sit at the start of their arrow, in the gap.
"""

from __future__ import annotations

import textwrap
from collections import deque
from dataclasses import dataclass, field
from html import escape

from .schema import (
    BranchNode,
    DialNode,
    DigitsNode,
    EffectNode,
    Flow,
    MenuNode,
    Node,
    PhoneNode,
    RecordNode,
)

CHAR_WIDTH = 7  # rough width of a 12px sans-serif character, enough to size boxes
LINE_HEIGHT = 16
PADDING = 10
PORT_SPACING = 20  # vertical room per labelled arrow leaving a box
COLUMN_GAP = 170  # room for a label (up to LABEL_ZONE) and the vertical lanes after it
LABEL_ZONE = 125
LANE_SPACING = 6
ROW_GAP = 28
MARGIN = 40
TITLE_HEIGHT = 50
PROMPT_WIDTH = 36  # characters of prompt text per line in a box

COLOURS = {
    "menu": "#dbeafe", "digits": "#e0f2fe", "record": "#fef3c7", "say": "#f3f4f6",
    "branch": "#ede9fe", "effect": "#dcfce7", "dial": "#ffedd5", "hangup": "#fee2e2",
}  # fmt: skip


@dataclass
class _Box:
    node: Node
    column: int
    lines: list[str]
    x: float = 0
    y: float = 0
    width: float = 0
    height: float = 0
    outgoing: list[_Edge] = field(default_factory=list)
    incoming: list[_Edge] = field(default_factory=list)


@dataclass
class _Edge:
    source: _Box
    target: _Box
    label: str
    lane: int | None = None  # index of the lane for arrows that do not go to the next column


def flow_to_svg(flow: Flow, language: str = "nl") -> str:
    """An SVG document picturing the flow, with prompts in the given language."""
    if language not in flow.languages:
        language = flow.default_language
    columns = _columns(flow)
    boxes = {
        node_id: _Box(flow.nodes[node_id], index, _box_lines(flow.nodes[node_id], language))
        for index, column in enumerate(columns)
        for node_id in column
    }
    edges = [
        _Edge(boxes[source], boxes[target], label)
        for (source, target), label in _edges(flow).items()
    ]
    for edge in edges:
        edge.source.outgoing.append(edge)
        edge.target.incoming.append(edge)
    top_lanes = [edge for edge in edges if edge.target.column <= edge.source.column]
    bottom_lanes = [edge for edge in edges if edge.target.column > edge.source.column + 1]
    for lanes in (top_lanes, bottom_lanes):
        for index, edge in enumerate(lanes):
            edge.lane = index

    top = MARGIN + TITLE_HEIGHT + (len(top_lanes) + 1) * LANE_SPACING
    bottom = _place_boxes(columns, boxes, top)
    width = max(box.x + box.width for box in boxes.values()) + MARGIN
    height = bottom + (len(bottom_lanes) + 1) * LANE_SPACING + MARGIN
    lanes_y = {"top": top - LANE_SPACING, "bottom": bottom + LANE_SPACING}

    parts = [
        _open("svg", xmlns="http://www.w3.org/2000/svg", width=_px(width), height=_px(height),
              viewBox=f"0 0 {width:.0f} {height:.0f}", font_family="sans-serif", font_size="12"),
        _tag("title", flow.name),
        "<defs>",
        _open("marker", id="arrow", viewBox="0 0 10 10", refX="10", refY="5", markerWidth="8",
              markerHeight="8", orient="auto-start-reverse"),
        _tag("path", d="M 0 0 L 10 5 L 0 10 z", fill="#555"),
        "</marker></defs>",
        _tag("rect", width="100%", height="100%", fill="white"),
        _tag("text", flow.name, x=MARGIN, y=MARGIN, font_size="16", font_weight="bold"),
        _tag("text", _legend(flow), x=MARGIN, y=MARGIN + 20, fill="#555"),
    ]  # fmt: skip
    for box in boxes.values():
        parts.append(_draw_box(box))
    labels = []
    for edge in edges:
        start = _port(edge.source, edge, outgoing=True)
        end = _port(edge.target, edge, outgoing=False)
        path = _route(edge, start, end, lanes_y)
        parts.append(
            _tag(
                "path", class_="edge", d=path, fill="none", stroke="#555", marker_end="url(#arrow)"
            )
        )
        if edge.label:
            labels.append(_label(edge.label, start))
    # Labels last, so that no arrow is drawn over them.
    parts.extend(labels)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _columns(flow: Flow) -> list[list[str]]:
    """Node ids per column: a node's column is its number of steps from the start."""
    depth: dict[str, int] = {}
    # The operator path is only reached through the implicit 0 key: start it in column 1.
    for root, first in ((flow.start, 0), (flow.operator, 1)):
        if root in depth:
            continue
        depth[root] = first
        todo = deque([root])
        while todo:
            node_id = todo.popleft()
            for exit_ in flow.nodes[node_id].exits():
                if exit_.target not in depth:
                    depth[exit_.target] = depth[node_id] + 1
                    todo.append(exit_.target)
    for node_id in flow.nodes:  # unreachable nodes (a flow being drafted) still get a box
        depth.setdefault(node_id, 0)
    columns: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for node_id, column in depth.items():
        columns[column].append(node_id)
    return columns


def _place_boxes(columns: list[list[str]], boxes: dict[str, _Box], top: float) -> float:
    """Give every box its position and size; returns the lowest bottom edge."""
    x = float(MARGIN)
    bottom = top
    for column in columns:
        width = max(_text_width(line) for node_id in column for line in boxes[node_id].lines)
        y = top
        for node_id in column:
            box = boxes[node_id]
            labelled = sum(1 for edge in box.outgoing if edge.label)
            box.x, box.y, box.width = x, y, width + 2 * PADDING
            box.height = max(
                len(box.lines) * LINE_HEIGHT + PADDING,
                (labelled + 1) * PORT_SPACING,
                (len(box.incoming) + 1) * LANE_SPACING * 2,
            )
            y += box.height + ROW_GAP
        bottom = max(bottom, y - ROW_GAP)
        x += width + 2 * PADDING + COLUMN_GAP
    return bottom


def _edges(flow: Flow) -> dict[tuple[str, str], str]:
    """One arrow per (source, target), its label listing every key that takes it: "1, 2, 3"."""
    edges: dict[tuple[str, str], list[str]] = {}
    for node in flow.nodes.values():
        for exit_ in node.exits():
            edges.setdefault((node.id, exit_.target), []).append(exit_.label)
    return {pair: ", ".join(label for label in labels if label) for pair, labels in edges.items()}


def _port(box: _Box, edge: _Edge, *, outgoing: bool) -> tuple[float, float]:
    """Where an arrow leaves (right side) or enters (left side) a box, spread over its height."""
    if outgoing:
        # Ordered by where they go, so that arrows out of one box do not cross each other.
        siblings = sorted(box.outgoing, key=lambda other: (_lane_order(other), other.target.y))
        x = box.x + box.width
    else:
        siblings = sorted(box.incoming, key=lambda other: (_lane_order(other), other.source.y))
        x = box.x
    index = siblings.index(edge)
    return x, box.y + box.height * (index + 1) / (len(siblings) + 1)


def _lane_order(edge: _Edge) -> int:
    if edge.target.column <= edge.source.column:
        return 0  # goes over the top: leave from the top of the box
    return 1 if edge.target.column == edge.source.column + 1 else 2


def _route(
    edge: _Edge, start: tuple[float, float], end: tuple[float, float], lanes_y: dict[str, float]
) -> str:
    """An SVG path: a curve to the next column, otherwise straight lines through the lanes."""
    (x1, y1), (x2, y2) = start, end
    if edge.lane is None:
        bend = (x2 - x1) / 2
        return (
            f"M {x1:.0f} {y1:.0f} C {x1 + bend:.0f} {y1:.0f}, {x2 - bend:.0f} {y2:.0f}, "
            f"{x2:.0f} {y2:.0f}"
        )
    going_back = edge.target.column <= edge.source.column
    offset = edge.lane * LANE_SPACING
    lane_y = lanes_y["top"] - offset if going_back else lanes_y["bottom"] + offset
    # Vertical parts run in the gaps between columns, after the labels, so they cross no box.
    out_x = x1 + LABEL_ZONE + (edge.lane % 7) * LANE_SPACING
    in_x = x2 - MARGIN / 2 + (edge.lane % 4) * LANE_SPACING / 2
    if going_back:
        in_x = x2 - 10 - (edge.lane % 4) * LANE_SPACING
    points = [(x1, y1), (out_x, y1), (out_x, lane_y), (in_x, lane_y), (in_x, y2), (x2, y2)]
    return "M " + " L ".join(f"{x:.0f} {y:.0f}" for x, y in points)


def _box_lines(node: Node, language: str) -> list[str]:
    lines = [node.id, _describe(node)]
    if node.say:
        text = " ".join(sentence.get(language, "") for sentence in node.say)
        lines += textwrap.wrap(text, PROMPT_WIDTH, max_lines=3, placeholder=" …")
    if isinstance(node, MenuNode):
        for option in node.options.values():
            label = option.label.get(option.language or language, "")
            lines.append(textwrap.shorten(f"{option.key}: {label}", PROMPT_WIDTH, placeholder=" …"))
    return lines


def _describe(node: Node) -> str:
    if isinstance(node, DigitsNode):
        check = f", check {node.check}" if node.check else ""
        return f"digits: {node.length} → {node.store}{check}"
    if isinstance(node, RecordNode):
        return f"record: up to {node.max_length} s → {node.store}"
    if isinstance(node, EffectNode):
        return f"effect: {node.effect}"
    if isinstance(node, BranchNode):
        return f"branch: {node.condition}?"
    if isinstance(node, DialNode):
        return f"dial: {node.target}"
    if isinstance(node, PhoneNode):
        return f"phone number → {node.store}"
    return node.type


def _legend(flow: Flow) -> str:
    return (
        f"In every menu: 0 = a person ({flow.operator}), 9 = repeat, * = back. "
        f"{flow.max_misses} silences or wrong keys in one menu also lead to {flow.operator}."
    )


def _label(text: str, start: tuple[float, float]) -> str:
    x, y = start
    width = _text_width(text) + 8
    return "".join([
        _open("g", class_="edge-label"),
        _tag("rect", x=_px(x + 4), y=_px(y - 17), width=_px(width), height="15", rx="3",
             fill="white", stroke="#bbb"),
        _tag("text", text, x=_px(x + 8), y=_px(y - 6), fill="#333"),
        "</g>",
    ])  # fmt: skip


def _draw_box(box: _Box) -> str:
    parts = [
        _open("g", class_="node", id=f"node-{box.node.id}"),
        _tag("rect", x=_px(box.x), y=_px(box.y), width=_px(box.width), height=_px(box.height),
             rx="6", fill=COLOURS.get(box.node.type, "#fff"), stroke="#333"),
    ]  # fmt: skip
    for index, line in enumerate(box.lines):
        style = {"font_weight": "bold"} if index == 0 else {}
        if index == 1:
            style = {"fill": "#555", "font_style": "italic"}
        y = box.y + PADDING / 2 + LINE_HEIGHT * (index + 1) - 4
        parts.append(_tag("text", line, x=_px(box.x + PADDING), y=_px(y), **style))
    parts.append("</g>")
    return "".join(parts)


def _open(name: str, **attributes: object) -> str:
    """An opening tag; attribute names use _ for - (font_size) and a trailing _ for keywords."""
    pairs = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{escape(str(value), quote=True)}"'
        for key, value in attributes.items()
    )
    return f"<{name}{pairs}>"


def _tag(name: str, content: str | None = None, **attributes: object) -> str:
    """A whole element with escaped text content, or self-closing without content."""
    if content is None:
        return _open(name, **attributes)[:-1] + "/>"
    return f"{_open(name, **attributes)}{escape(content)}</{name}>"


def _px(value: float) -> str:
    return f"{value:.0f}"


def _text_width(text: str) -> float:
    return len(text) * CHAR_WIDTH

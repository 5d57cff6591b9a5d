"""Contrast of the portal's colors, computed from static/css/portal.css itself (WCAG 2.1 relative luminance)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[2] / "static" / "css" / "portal.css").read_text()
WHITE = "#ffffff"


def variables() -> dict[str, str]:
    root = re.search(r":root\s*{(.*?)}", CSS, re.S)
    assert root is not None
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", root.group(1)))


def color(value: str) -> str:
    """Resolve ``var(--name)`` and shorthand hex colors to ``#rrggbb``."""
    value = value.strip()
    if value.startswith("var("):
        value = variables()[value[len("var(--") : -1]]
    if value == "#fff":
        return WHITE
    if len(value) == 4:
        value = "#" + "".join(c * 2 for c in value[1:])
    return value.lower()


def declarations(selector: str) -> dict[str, str]:
    """Return the declarations of every rule whose selector list names ``selector`` exactly, later rules winning."""
    found: dict[str, str] = {}
    for selectors, body in re.findall(r"([^{}]+){([^{}]*)}", CSS):
        if selector in [s.strip() for s in selectors.split(",")]:
            found.update((k.strip(), v.strip()) for k, v in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body))
    return found


def luminance(hex_color: str) -> float:
    channels = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def ratio(a: str, b: str) -> float:
    high, low = sorted((luminance(color(a)), luminance(color(b))), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_ratio_matches_known_wcag_values() -> None:
    assert round(ratio("#000", "#fff"), 1) == 21.0
    assert round(ratio("#767676", "#fff"), 2) == 4.54


def test_it_gives_form_field_borders_at_least_3_to_1_against_the_card() -> None:
    border = declarations("input")["border"].split()[-1]

    assert ratio(border, "var(--card)") >= 3.0


@pytest.mark.parametrize("tone", ["ok", "bad", "info", "busy", "muted"])
def test_it_gives_state_badges_at_least_4_5_to_1(tone: str) -> None:
    rule = declarations(f".badge-{tone}")

    assert ratio(rule["color"], rule["background"]) >= 4.5


@pytest.mark.parametrize("category", ["current", "older", "staged", "unknown", "other", "silent"])
def test_it_gives_category_badges_at_least_4_5_to_1(category: str) -> None:
    text = declarations(".badge.cat")["color"]
    background = declarations(f".seg-{category}")["background"]

    assert ratio(text, background) >= 4.5

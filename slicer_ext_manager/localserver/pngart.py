"""A small pure-Python rasteriser writing PNG files (standard library only, no Qt), for the demo
catalog's pictures (:mod:`.demoart`).

The demo draws ~50 pictures on first start, so drawing must be quick without numpy:
a :class:`Canvas` is an RGBA ``bytearray`` (straight alpha), and

* shapes are anti-aliased analytically: a pixel's coverage is ``clamp(0.5 - d)``,
  ``d`` being the signed distance from the pixel centre to the shape's edge (``sdf``
  functions below, negative inside);
* only the edge pixels of a convex shape are computed one by one; its inside, row by
  row, is blended with ``bytes.translate`` (one lookup table per channel, C speed);
* everything drawn after the background is composited *source-atop* (the colour is
  blended, the alpha kept), so drawings are clipped to an icon's rounded tile for free,
  and blending a colour at a constant opacity is a per-channel table lookup.

Letters come from a 5×7 bitmap font (:data:`FONT`) drawn as round strokes joining
neighbouring dots (smooth at any size, unlike scaled pixels). Output is byte-for-byte
deterministic (no timestamps; zlib at a fixed level).
"""

from __future__ import annotations

import functools
import math
import struct
import zlib
from pathlib import Path
from typing import Callable, Iterable, Sequence, Tuple

Color = Tuple[int, int, int]
Sdf = Callable[[float, float], float]
Box = Tuple[float, float, float, float]  # x0, y0, x1, y1 (pixels, x1/y1 exclusive)

__all__ = ["Canvas", "FONT", "arc", "circle", "convex_polygon", "hex_color", "mix", "ring", "rounded_box",
           "shade"]

WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)


# ------------------------------------------------------------------------------------------------
# colours


def hex_color(text: str) -> Color:
    """``"#2e7d5b"`` -> ``(46, 125, 91)``."""
    value = text.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def mix(a: Color, b: Color, t: float) -> Color:
    """``a`` at ``t = 0``, ``b`` at ``t = 1``."""
    t = min(max(t, 0.0), 1.0)
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def shade(color: Color, factor: float) -> Color:
    """Lighter towards white for ``factor > 1`` (2 = white), darker towards black below 1."""
    return mix(color, WHITE, factor - 1.0) if factor >= 1 else mix(color, BLACK, 1.0 - factor)


@functools.lru_cache(maxsize=4096)
def _lut(channel: int, alpha: int) -> bytes:
    """``dst -> channel * alpha + dst * (1 - alpha)`` for every byte ``dst`` (alpha in 0..255)."""
    keep = 255 - alpha
    return bytes((channel * alpha + dst * keep + 127) // 255 for dst in range(256))


# ------------------------------------------------------------------------------------------------
# signed distance functions (negative inside, in pixels)


def circle(cx: float, cy: float, r: float) -> Sdf:
    return lambda x, y: math.hypot(x - cx, y - cy) - r


def rounded_box(x0: float, y0: float, x1: float, y1: float, r: float) -> Sdf:
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2 - r, (y1 - y0) / 2 - r

    def sdf(x: float, y: float) -> float:
        qx, qy = abs(x - cx) - hw, abs(y - cy) - hh
        outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
        return outside + min(max(qx, qy), 0.0) - r

    return sdf


def ring(cx: float, cy: float, r: float, width: float) -> Sdf:
    return lambda x, y: abs(math.hypot(x - cx, y - cy) - r) - width / 2


def arc(cx: float, cy: float, r: float, width: float, start: float, end: float) -> Sdf:
    """A stroked arc with round caps, from angle ``start`` to ``end`` (radians, y down)."""
    caps = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in (start, end)]

    def sdf(x: float, y: float) -> float:
        angle = math.atan2(y - cy, x - cx) % (2 * math.pi)
        if start <= angle <= end:
            return abs(math.hypot(x - cx, y - cy) - r) - width / 2
        return min(math.hypot(x - px, y - py) for px, py in caps) - width / 2

    return sdf


def convex_polygon(points: Sequence[tuple[float, float]]) -> Sdf:
    """Inside a convex polygon given clockwise on screen (y down). Exact near the edges,
    which is all anti-aliasing needs."""
    edges = []
    for (ax, ay), (bx, by) in zip(points, list(points[1:]) + [points[0]]):
        length = math.hypot(bx - ax, by - ay)
        edges.append((ax, ay, (by - ay) / length, -(bx - ax) / length))  # outward normal

    return lambda x, y: max((x - ax) * nx + (y - ay) * ny for ax, ay, nx, ny in edges)


def segment_distance(x: float, y: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Distance from ``(x, y)`` to the segment ``a``-``b``."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else min(max(((x - ax) * dx + (y - ay) * dy) / length2, 0.0), 1.0)
    return math.hypot(x - ax - t * dx, y - ay - t * dy)


def convex_row(sdf: Sdf, y: int, x0: int, x1: int) -> tuple[list[tuple[int, float]], tuple[int, int] | None]:
    """Row ``y`` of a convex shape between ``x0`` and ``x1``: the partially covered pixels as
    ``(x, coverage)`` and the fully covered interval ``(start, stop)`` (None when there is none).

    Convexity makes the covered pixels of a row one interval, so the search walks in from
    both ends and stops at the first fully covered pixel on each side."""
    cy = y + 0.5
    edges: list[tuple[int, float]] = []
    first = None
    for x in range(x0, x1):
        d = sdf(x + 0.5, cy)
        if d <= -0.5:
            first = x
            break
        if d < 0.5:
            edges.append((x, 0.5 - d))
    if first is None:
        return edges, None
    last = first
    for x in range(x1 - 1, first, -1):
        d = sdf(x + 0.5, cy)
        if d <= -0.5:
            last = x
            break
        if d < 0.5:
            edges.append((x, 0.5 - d))
    return edges, (first, last + 1)


# ------------------------------------------------------------------------------------------------
# the canvas


class Canvas:
    """An RGBA picture; see the module docstring for how drawing works."""

    def __init__(self, width: int, height: int, color: Color = BLACK, alpha: int = 255):
        self.width, self.height = width, height
        self.px = bytearray(bytes((*color, alpha)) * (width * height))

    # -- compositing --------------------------------------------------------------------------

    def blend_pixel(self, x: int, y: int, color: Color, alpha: int) -> None:
        """Source-atop one pixel (``alpha`` 0..255)."""
        if alpha <= 0 or not (0 <= x < self.width and 0 <= y < self.height):
            return
        i = 4 * (y * self.width + x)
        px, keep = self.px, 255 - alpha
        px[i] = (color[0] * alpha + px[i] * keep + 127) // 255
        px[i + 1] = (color[1] * alpha + px[i + 1] * keep + 127) // 255
        px[i + 2] = (color[2] * alpha + px[i + 2] * keep + 127) // 255

    def blend_span(self, y: int, x0: int, x1: int, color: Color, alpha: int) -> None:
        """Source-atop pixels ``x0 <= x < x1`` of row ``y`` at one opacity."""
        x0, x1 = max(x0, 0), min(x1, self.width)
        if x1 <= x0 or alpha <= 0 or not 0 <= y < self.height:
            return
        start, end = 4 * (y * self.width + x0), 4 * (y * self.width + x1)
        seg = self.px[start:end]
        for k in range(3):
            if alpha >= 255:
                seg[k::4] = bytes((color[k],)) * (x1 - x0)
            else:
                seg[k::4] = seg[k::4].translate(_lut(color[k], alpha))
        self.px[start:end] = seg

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: Color, opacity: float = 1.0) -> None:
        """A pixel-aligned rectangle (coordinates rounded)."""
        alpha = round(255 * opacity)
        left, right = round(x0), round(x1)
        for y in range(max(round(y0), 0), min(round(y1), self.height)):
            self.blend_span(y, left, right, color, alpha)

    def fill(self, sdf: Sdf, box: Box, color: Color, opacity: float = 1.0, *, convex: bool = True) -> None:
        """Fill where ``sdf < 0`` inside ``box``, anti-aliased.

        For a convex shape only the pixels of each row's two edges are evaluated (the
        inside of a row is one interval); ``convex=False`` evaluates every pixel of ``box``.
        """
        x0, y0, x1, y1 = self._clip(box)
        full_alpha = round(255 * opacity)
        for y in range(y0, y1):
            if convex:
                edges, full = convex_row(sdf, y, x0, x1)
                if full is not None:
                    self.blend_span(y, full[0], full[1], color, full_alpha)
            else:
                edges = [(x, 0.5 - d) for x, d in ((x, sdf(x + 0.5, y + 0.5)) for x in range(x0, x1)) if d < 0.5]
            for x, coverage in edges:
                self.blend_pixel(x, y, color, round(full_alpha * min(coverage, 1.0)))

    def _clip(self, box: Box) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = box
        return (max(int(math.floor(x0)), 0), max(int(math.floor(y0)), 0),
                min(int(math.ceil(x1)), self.width), min(int(math.ceil(y1)), self.height))

    def strokes(self, segments: Iterable[tuple[float, float, float, float]], radius: float, color: Color,
                opacity: float = 1.0) -> None:
        """Round-capped strokes of ``radius`` along ``(ax, ay, bx, by)`` segments, blended once
        (overlaps do not darken)."""
        self.blend_coverage(self.stroke_coverage(segments, radius), color, opacity)

    def stroke_coverage(self, segments: Iterable[tuple[float, float, float, float]],
                        radius: float) -> dict[int, float]:
        """``{pixel index: coverage}`` of round-capped strokes (see :meth:`strokes`)."""
        coverage: dict[int, float] = {}
        w = self.width
        for ax, ay, bx, by in segments:
            x0, y0, x1, y1 = self._clip((min(ax, bx) - radius - 1, min(ay, by) - radius - 1,
                                         max(ax, bx) + radius + 1, max(ay, by) + radius + 1))
            for y in range(y0, y1):
                for x in range(x0, x1):
                    c = radius + 0.5 - segment_distance(x + 0.5, y + 0.5, ax, ay, bx, by)
                    if c > 0 and c > coverage.get(y * w + x, 0.0):
                        coverage[y * w + x] = c
        return coverage

    def blend_coverage(self, coverage: dict[int, float], color: Color, opacity: float = 1.0,
                       dx: int = 0, dy: int = 0) -> None:
        """Blend ``color`` over a coverage map, shifted by ``(dx, dy)`` pixels."""
        w = self.width
        for key, c in coverage.items():
            self.blend_pixel(key % w + dx, key // w + dy, color, round(255 * opacity * min(c, 1.0)))

    # -- text --------------------------------------------------------------------------------

    def text(self, text: str, x: float, y: float, height: float, color: Color, opacity: float = 1.0,
             *, shadow: float = 0.0) -> None:
        """``text`` (letters and digits of :data:`FONT`) with its top-left at ``(x, y)``, ``height``
        pixels high; ``shadow`` > 0 first draws a soft dark copy slightly below."""
        coverage = self.stroke_coverage(*text_strokes(text, x, y, height))
        if shadow:
            self.blend_coverage(coverage, BLACK, shadow, dy=max(round(height * 0.06), 1))
        self.blend_coverage(coverage, color, opacity)

    # -- output ------------------------------------------------------------------------------

    def png(self, *, alpha: bool = True) -> bytes:
        """The picture as PNG bytes (RGBA, or RGB with ``alpha=False``)."""
        if alpha:
            pixels, channels = bytes(self.px), 4
        else:
            rgb = bytearray(self.width * self.height * 3)
            for k in range(3):
                rgb[k::3] = self.px[k::4]
            pixels, channels = bytes(rgb), 3
        stride = self.width * channels
        raw = b"".join(b"\x00" + pixels[row:row + stride] for row in range(0, len(pixels), stride))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 6 if alpha else 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) \
            + _chunk(b"IEND", b"")

    def save(self, path: str | Path, *, alpha: bool = True) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.png(alpha=alpha))
        return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


# ------------------------------------------------------------------------------------------------
# the font


#: 5×7 glyphs, ``#`` = dot. Neighbouring dots are joined by strokes (see :func:`glyph_segments`).
FONT: dict[str, tuple[str, ...]] = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".###."),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("####.", "....#", "....#", ".###.", "....#", "....#", "####."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": (".###.", "#....", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "....#", ".###."),
}
GLYPH_COLUMNS, GLYPH_ROWS = 5, 7
#: Space between two glyphs, in dots.
LETTER_GAP = 1.6
#: Stroke radius, in dots (0.5 would make touching dots).
STROKE = 0.56


@functools.cache
def glyph_segments(char: str) -> tuple[tuple[int, int, int, int], ...]:
    """Dot-grid segments of a glyph: every dot joined to its right and lower neighbours, and to
    a lower diagonal neighbour when no orthogonal path joins them; a lone dot is a point.
    Unknown characters have no segments (a blank)."""
    rows = FONT.get(char.upper(), ())
    dots = {(x, y) for y, line in enumerate(rows) for x, mark in enumerate(line) if mark == "#"}
    segments = []
    joined: set[tuple[int, int]] = set()
    for x, y in sorted(dots, key=lambda d: (d[1], d[0])):
        ends = [(x + 1, y), (x, y + 1)]
        ends += [(x + dx, y + 1) for dx in (1, -1) if (x + dx, y) not in dots and (x, y + 1) not in dots]
        for end in ends:
            if end in dots:
                segments.append((x, y, *end))
                joined.update(((x, y), end))
    segments += [(x, y, x, y) for x, y in sorted(dots - joined, key=lambda d: (d[1], d[0]))]
    return tuple(segments)


def text_strokes(text: str, x: float, y: float, height: float) -> tuple[list[tuple[float, float, float, float]], float]:
    """Pixel segments and stroke radius of ``text`` with its top-left corner at ``(x, y)``."""
    unit = height / (GLYPH_ROWS - 1 + 2 * STROKE)
    left, top = x + STROKE * unit, y + STROKE * unit
    segments = []
    for i, char in enumerate(text):
        ox = left + i * (GLYPH_COLUMNS + LETTER_GAP) * unit
        for ax, ay, bx, by in glyph_segments(char):
            segments.append((ox + ax * unit, top + ay * unit, ox + bx * unit, top + by * unit))
    return segments, STROKE * unit

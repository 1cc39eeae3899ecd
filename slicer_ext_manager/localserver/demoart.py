"""The demo catalog's pictures, drawn with :mod:`.pngart`: extension icons (a rounded tile
with a gradient, a motif and initials) and made-up screenshots (a module panel and four views)."""

from __future__ import annotations

import math

from .pngart import (
    BLACK,
    WHITE,
    Canvas,
    Color,
    Sdf,
    arc,
    circle,
    convex_polygon,
    convex_row,
    mix,
    ring,
    rounded_box,
    shade,
)

__all__ = ["MOTIFS", "icon", "screenshot"]


def icon(size: int, base: Color, initials: str, *, motif: int = 0, tint: float = 0.5) -> Canvas:
    """An extension icon: a rounded tile with a diagonal gradient of ``base``, one of ten
    motifs in the top-right corner and ``initials`` (2–3 characters) in white."""
    canvas = Canvas(size, size, base, alpha=0)
    margin, radius = size * 0.04, size * 0.2
    _gradient_tile(canvas, margin, radius, shade(base, 1.22 + 0.25 * tint), shade(base, 0.82 - 0.12 * tint))
    MOTIFS[motif % len(MOTIFS)](canvas, size)
    text = initials[:3]
    height = size * (0.34 if len(text) <= 2 else 0.26)
    canvas.text(text, size * 0.14, size * 0.86 - height, height, WHITE, shadow=0.22)
    return canvas


def _gradient_tile(canvas: Canvas, margin: float, radius: float, start: Color, end: Color) -> None:
    """The opaque rounded tile of an icon, colours from ``start`` (top left) to ``end`` (bottom
    right), on a transparent canvas: written (colour and alpha), not blended. A row's colours
    are a slice of one diagonal ramp."""
    size = canvas.width
    steps = 2 * size
    ramp = b"".join(bytes((*mix(start, end, k / (steps - 1)), 255)) for k in range(steps))
    sdf = rounded_box(margin, margin, size - margin, size - margin, radius)
    px = canvas.px
    for y in range(size):
        row = 4 * y * size
        edges, full = convex_row(sdf, y, 0, size)
        if full is not None:
            px[row + 4 * full[0]:row + 4 * full[1]] = ramp[4 * (full[0] + y):4 * (full[1] + y)]
        for x, coverage in edges:
            i, k = row + 4 * x, 4 * (x + y)
            px[i:i + 3] = ramp[k:k + 3]
            px[i + 3] = round(255 * min(coverage, 1.0))


def _motif_ring(c: Canvas, s: float) -> None:
    c.fill(ring(s * 0.74, s * 0.26, s * 0.17, s * 0.035), (s * 0.5, s * 0.02, s * 0.98, s * 0.5), WHITE, 0.5,
           convex=False)


def _motif_dots(c: Canvas, s: float) -> None:
    for i in range(3):
        cx, r = s * (0.58 + 0.13 * i), s * 0.045
        c.fill(circle(cx, s * 0.2, r), (cx - r - 1, s * 0.2 - r - 1, cx + r + 1, s * 0.2 + r + 1), WHITE, 0.5)


def _motif_stripes(c: Canvas, s: float) -> None:
    c.strokes([(s * (0.54 + 0.11 * i), s * 0.1, s * 0.9, s * (0.46 - 0.11 * i)) for i in range(4)],
              s * 0.016, WHITE, 0.45)


def _motif_triangle(c: Canvas, s: float) -> None:
    pts = [(s * 0.74, s * 0.1), (s * 0.9, s * 0.38), (s * 0.58, s * 0.38), (s * 0.74, s * 0.1)]
    c.strokes([(*a, *b) for a, b in zip(pts, pts[1:])], s * 0.018, WHITE, 0.5)


def _motif_diamond(c: Canvas, s: float) -> None:
    pts = [(s * 0.75, s * 0.08), (s * 0.9, s * 0.24), (s * 0.75, s * 0.4), (s * 0.6, s * 0.24)]
    c.fill(convex_polygon(pts), (s * 0.58, s * 0.06, s * 0.92, s * 0.42), WHITE, 0.35)


def _motif_wave(c: Canvas, s: float) -> None:
    pts = [(s * (0.52 + 0.4 * k / 24), s * (0.24 + 0.07 * math.sin(k / 24 * 3 * math.pi))) for k in range(25)]
    c.strokes([(*a, *b) for a, b in zip(pts, pts[1:])], s * 0.018, WHITE, 0.5)


def _motif_plus(c: Canvas, s: float) -> None:
    c.strokes([(s * 0.75, s * 0.1, s * 0.75, s * 0.38), (s * 0.61, s * 0.24, s * 0.89, s * 0.24)],
              s * 0.022, WHITE, 0.5)


def _motif_grid(c: Canvas, s: float) -> None:
    for i in range(3):
        for j in range(3):
            cx, cy, r = s * (0.64 + 0.1 * i), s * (0.14 + 0.1 * j), s * 0.027
            c.fill(circle(cx, cy, r), (cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1), WHITE, 0.5)


def _motif_arcs(c: Canvas, s: float) -> None:
    for r in (0.16, 0.27):
        c.fill(arc(s * 0.92, s * 0.08, s * r, s * 0.03, math.pi / 2, math.pi), (s * 0.55, s * 0.0, s, s * 0.45),
               WHITE, 0.5, convex=False)


def _motif_squares(c: Canvas, s: float) -> None:
    for k, opacity in ((0.0, 0.3), (0.07, 0.35)):
        box = (s * (0.6 + k), s * (0.1 + k), s * (0.88 - k), s * (0.38 - k))
        c.fill(rounded_box(*box, s * 0.04), (box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1), WHITE, opacity)


#: The ten motifs, so that icons of one category differ at a glance.
MOTIFS = (_motif_ring, _motif_dots, _motif_stripes, _motif_triangle, _motif_diamond, _motif_wave, _motif_plus,
          _motif_grid, _motif_arcs, _motif_squares)


# -- screenshot ----------------------------------------------------------------------------------

_PANEL, _PANEL_LINE, _CHROME = (238, 241, 245), (203, 210, 219), (43, 47, 54)
#: Slicer's red, yellow and green slice view bars.
_VIEW_BARS = ((243, 74, 51), (237, 213, 76), (110, 176, 75))


def screenshot(width: int, height: int, accent: Color, seed: bytes, initials: str) -> Canvas:
    """A made-up application window: a module panel on the left (headed by ``initials`` in
    ``accent``) and a four-view layout, three slices and a 3D view, each showing a shape in
    ``accent``. ``seed`` (20+ bytes) places the shapes."""
    canvas = Canvas(width, height, _CHROME)
    bar = max(round(height * 0.07), 12)
    for i, color in enumerate(((237, 106, 94), (245, 191, 79), (98, 197, 84))):
        cx, cy, r = bar * (0.7 + 0.75 * i), bar / 2, bar * 0.2
        canvas.fill(circle(cx, cy, r), (cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1), color)
    canvas.fill(rounded_box(width * 0.38, bar * 0.25, width * 0.62, bar * 0.75, bar * 0.25),
                (width * 0.38 - 1, 0, width * 0.62 + 1, bar), WHITE, 0.12)
    panel = round(width * 0.3)
    _module_panel(canvas, (0, bar, panel, height), accent, seed, initials)
    x0, y0, gap = panel + 2, bar + 2, 2
    w, h = (width - x0 - gap) // 2, (height - y0 - gap) // 2
    views = [(x0, y0), (x0 + w + gap, y0), (x0, y0 + h + gap), (x0 + w + gap, y0 + h + gap)]
    for i, (vx, vy) in enumerate(views[:3]):
        _slice_view(canvas, (vx, vy, vx + w, vy + h), _VIEW_BARS[i], accent, seed[3 * i:3 * i + 3])
    _three_d_view(canvas, (views[3][0], views[3][1], views[3][0] + w, views[3][1] + h), accent, seed[9:12])
    return canvas


def _module_panel(canvas: Canvas, box: tuple[int, int, int, int], accent: Color, seed: bytes, initials: str) -> None:
    x0, y0, x1, y1 = box
    canvas.rect(x0, y0, x1, y1, _PANEL)
    pad = (x1 - x0) * 0.08
    head = (y1 - y0) * 0.16
    canvas.fill(rounded_box(x0 + pad, y0 + pad, x1 - pad, y0 + pad + head, 5),
                (x0, y0, x1, y0 + pad + head + 1), accent)
    text_height = head * 0.5
    canvas.text(initials, x0 + pad * 2, y0 + pad + (head - text_height) / 2, text_height, WHITE)
    y = y0 + 2 * pad + head
    row = (y1 - y0) * 0.085
    for k in range(6):
        label = (x1 - x0 - 2 * pad) * (0.3 + 0.12 * (seed[12 + k] % 4))
        canvas.fill(rounded_box(x0 + pad, y, x0 + pad + label, y + row * 0.32, 3),
                    (x0, y - 1, x1, y + row * 0.32 + 1), _PANEL_LINE)
        if k % 2:  # a slider under every other label
            track_y = y + row * 0.62
            canvas.rect(x0 + pad, track_y, x1 - pad, track_y + 2, _PANEL_LINE)
            knob = x0 + pad + (x1 - x0 - 2 * pad) * (seed[13 + k] / 255)
            canvas.fill(circle(knob, track_y + 1, row * 0.18), (knob - row * 0.2, track_y - row * 0.2,
                                                               knob + row * 0.2, track_y + row * 0.2 + 2), accent)
        y += row
    button = (x0 + pad, y1 - pad - row * 0.7, x1 - pad, y1 - pad)
    canvas.fill(rounded_box(*button, 5), (button[0] - 1, button[1] - 1, button[2] + 1, button[3] + 1),
                shade(accent, 1.15))


def _slice_view(canvas: Canvas, box: tuple[int, int, int, int], bar: Color, accent: Color, seed: bytes) -> None:
    x0, y0, x1, y1 = box
    canvas.rect(x0, y0, x1, y1, (8, 9, 11))
    canvas.rect(x0, y0, x1, y0 + 6, bar)
    cx, cy = (x0 + x1) / 2, (y0 + y1 + 6) / 2
    rx, ry = (x1 - x0) * 0.36, (y1 - y0 - 6) * 0.4
    body = _ellipse(cx, cy, rx, ry)
    canvas.fill(body, (cx - rx - 1, cy - ry - 1, cx + rx + 1, cy + ry + 1), (92, 96, 104))
    inner = _ellipse(cx, cy, rx * 0.8, ry * 0.78)
    canvas.fill(inner, (cx - rx, cy - ry, cx + rx, cy + ry), (54, 57, 63))
    bx = cx + rx * (seed[0] / 255 - 0.5) * 0.8
    by = cy + ry * (seed[1] / 255 - 0.5) * 0.8
    r = min(rx, ry) * (0.22 + 0.2 * seed[2] / 255)
    canvas.fill(circle(bx, by, r), (bx - r - 1, by - r - 1, bx + r + 1, by + r + 1), accent, 0.85)
    canvas.fill(ring(bx, by, r, 1.6), (bx - r - 2, by - r - 2, bx + r + 2, by + r + 2), shade(accent, 1.5),
                convex=False)
    canvas.rect(cx - 0.5, y0 + 6, cx + 0.5, y1, bar, 0.35)  # crosshair
    canvas.rect(x0, cy - 0.5, x1, cy + 0.5, bar, 0.35)


def _three_d_view(canvas: Canvas, box: tuple[int, int, int, int], accent: Color, seed: bytes) -> None:
    x0, y0, x1, y1 = box
    top, bottom = (194, 195, 230), (116, 120, 155)  # Slicer's 3D background gradient
    for y in range(y0, y1):
        canvas.blend_span(y, x0, x1, mix(top, bottom, (y - y0) / max(y1 - y0 - 1, 1)), 255)
    canvas.rect(x0, y0, x1, y0 + 6, (139, 140, 178))
    cx = (x0 + x1) / 2 + (x1 - x0) * (seed[0] / 255 - 0.5) * 0.3
    cy = (y0 + y1) / 2 + (y1 - y0) * (seed[1] / 255 - 0.5) * 0.2
    r = (y1 - y0) * (0.26 + 0.08 * seed[2] / 255)
    canvas.fill(_ellipse(cx, cy + r * 0.92, r * 0.9, r * 0.16), (cx - r, cy + r * 0.7, cx + r, cy + r * 1.1),
                BLACK, 0.18)  # shadow
    _sphere(canvas, cx, cy, r, accent)


def _sphere(canvas: Canvas, cx: float, cy: float, r: float, color: Color) -> None:
    """A lit sphere: Lambert shading from the upper left plus a small specular highlight."""
    lx, ly, lz = -0.45, -0.55, 0.70
    sdf = circle(cx, cy, r)
    for y in range(max(int(cy - r) - 1, 0), min(int(cy + r) + 2, canvas.height)):
        edges, full = convex_row(sdf, y, max(int(cx - r) - 1, 0), min(int(cx + r) + 2, canvas.width))
        pixels = [(x, c) for x, c in edges]
        if full is not None:
            pixels += [(x, 1.0) for x in range(*full)]
        for x, coverage in pixels:
            nx, ny = (x + 0.5 - cx) / r, (y + 0.5 - cy) / r
            nz = math.sqrt(max(1.0 - nx * nx - ny * ny, 0.0))
            light = max(nx * lx + ny * ly + nz * lz, 0.0)
            lit = shade(color, 0.45 + 0.75 * light)
            canvas.blend_pixel(x, y, mix(lit, WHITE, max(light - 0.93, 0.0) * 8), round(255 * min(coverage, 1.0)))


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> Sdf:
    """An ellipse's approximate distance (exact on the axes; enough for anti-aliasing)."""
    scale = min(rx, ry)

    def sdf(x: float, y: float) -> float:
        return (math.hypot((x - cx) / rx, (y - cy) / ry) - 1.0) * scale

    return sdf

"""The pure-Python rasteriser (``localserver.pngart``) and the demo pictures drawn with it
(``localserver.demoart``). Qt is used here only to check that what we write is a PNG that
Qt reads back pixel for pixel."""

from __future__ import annotations

import struct
import zlib

import pytest
from PySide6.QtGui import QImage

from slicer_ext_manager.localserver import demoart, pngart

ACCENT = pngart.hex_color("#2e7d5b")


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


@pytest.mark.parametrize("alpha", [True, False])
def test_png_is_well_formed_and_reads_back_pixel_for_pixel(alpha):
    canvas = pngart.Canvas(37, 23, (10, 20, 30))
    canvas.fill(pngart.circle(12, 11, 8), (3, 2, 22, 21), ACCENT)
    canvas.rect(25, 3, 35, 20, (200, 100, 50), 0.5)
    canvas.text("AZ09", 2, 15, 7, (255, 255, 255))
    data = canvas.png(alpha=alpha)
    chunks = _chunks(data)
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, color_type = struct.unpack(">IIBB", chunks[0][1][:10])
    assert (width, height, depth, color_type) == (37, 23, 8, 6 if alpha else 2)
    assert len(zlib.decompress(chunks[1][1])) == height * (1 + width * (4 if alpha else 3))
    image = QImage.fromData(data, "PNG")
    assert (image.width(), image.height()) == (37, 23)
    for y in range(height):
        for x in range(width):
            i = 4 * (y * width + x)
            color = image.pixelColor(x, y)
            assert (color.red(), color.green(), color.blue()) == tuple(canvas.px[i:i + 3]), (x, y)


def test_convex_fill_matches_evaluating_every_pixel():
    """The edge-only walk of convex shapes gives the same picture as evaluating each pixel."""
    shapes = [pngart.circle(20.3, 18.7, 11.2), pngart.rounded_box(4.5, 6, 38, 30.5, 7),
              pngart.convex_polygon([(20, 2), (38, 20), (20, 38), (2, 20)])]
    for sdf in shapes:
        fast, slow = pngart.Canvas(42, 42), pngart.Canvas(42, 42)
        fast.fill(sdf, (0, 0, 42, 42), ACCENT, 0.8)
        slow.fill(sdf, (0, 0, 42, 42), ACCENT, 0.8, convex=False)
        assert fast.px == slow.px


def test_icons_are_deterministic_tiles_with_soft_edges():
    first = demoart.icon(128, ACCENT, "VL", motif=3, tint=0.4).png()
    assert demoart.icon(128, ACCENT, "VL", motif=3, tint=0.4).png() == first
    image = QImage.fromData(first, "PNG")
    assert image.pixelColor(0, 0).alpha() == 0  # outside the rounded tile
    assert image.pixelColor(64, 64).alpha() == 255
    edge = {image.pixelColor(x, 64).alpha() for x in range(8)}
    assert 0 in edge and 255 in edge and any(0 < a < 255 for a in edge)  # anti-aliased
    others = {demoart.icon(128, ACCENT, text, motif=m).png() for text, m in (("VL", 0), ("SS", 3), ("VL", 4))}
    assert first not in others and len(others) == 3


def test_the_ten_motifs_differ():
    drawn = set()
    for motif in demoart.MOTIFS:
        canvas = pngart.Canvas(96, 96, ACCENT)
        motif(canvas, 96)
        drawn.add(bytes(canvas.px))
    assert len(drawn) == len(demoart.MOTIFS) == 10 and bytes(pngart.Canvas(96, 96, ACCENT).px) not in drawn


def test_font_covers_letters_and_digits():
    for char in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":
        dots = sum(row.count("#") for row in pngart.FONT[char])
        segments = pngart.glyph_segments(char)
        assert segments and dots >= 5, char
        ends = {(x, y) for ax, ay, bx, by in segments for x, y in ((ax, ay), (bx, by))}
        assert len(ends) == dots, char  # every dot is drawn
    assert pngart.glyph_segments("a") == pngart.glyph_segments("A")
    assert pngart.glyph_segments("?") == ()


def test_screenshot_is_an_opaque_window_in_the_accent_colour():
    data = demoart.screenshot(480, 300, ACCENT, bytes(range(20)), "VL").png(alpha=False)
    image = QImage.fromData(data, "PNG")
    assert (image.width(), image.height()) == (480, 300) and not image.hasAlphaChannel()
    colors = {image.pixelColor(x, y).rgb() for x in range(0, 480, 7) for y in range(0, 300, 7)}
    assert len(colors) > 50
    header = image.pixelColor(120, 40)  # the module panel's header, right of its initials
    assert (header.red(), header.green(), header.blue()) == ACCENT

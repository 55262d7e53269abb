#!/usr/bin/env python3
"""Draws Loupe's app icon (a lens over three waterfall bars) into the PNG
files tauri.conf.json lists. Pure standard library, so it runs anywhere:

    python3 src-tauri/icons/generate.py
"""
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SS = 4  # supersampling per axis

BG = (17, 24, 39)        # slate background
RING = (45, 212, 191)    # teal lens rim
HANDLE = (148, 163, 184) # grey handle
BARS = [(96, 165, 250), (251, 191, 36), (248, 113, 113)]  # waterfall spans


def inside_rounded_square(x, y, r):
    # unit coordinates 0..1, corner radius r
    cx = min(max(x, r), 1 - r)
    cy = min(max(y, r), 1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def dist_to_segment(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    qx, qy = ax + t * dx, ay + t * dy
    return math.hypot(px - qx, py - qy)


def sample(x, y):
    """RGBA of the icon at unit coordinates (x, y)."""
    if not inside_rounded_square(x, y, 0.2):
        return (0, 0, 0, 0)
    cx, cy, r = 0.43, 0.43, 0.25
    d = math.hypot(x - cx, y - cy)
    # handle: from the rim towards the bottom-right corner
    a = (cx + r * 0.78, cy + r * 0.78)
    if dist_to_segment(x, y, a[0], a[1], 0.80, 0.80) < 0.055 and d > r:
        return HANDLE + (255,)
    if abs(d - r) < 0.045:
        return RING + (255,)
    if d < r - 0.045:
        # three waterfall bars inside the lens
        rows = [(0.34, 0.27, 0.52), (0.43, 0.33, 0.60), (0.52, 0.40, 0.50)]
        for (row_y, x0, x1), color in zip(rows, BARS):
            if abs(y - row_y) < 0.03 and x0 <= x <= x1:
                return color + (255,)
        return (30, 41, 59, 255)
    return BG + (255,)


def render(size):
    rows = []
    n = SS * SS
    for j in range(size):
        row = bytearray([0])  # filter: none
        for i in range(size):
            acc = [0, 0, 0, 0]
            for sj in range(SS):
                for si in range(SS):
                    c = sample((i + (si + 0.5) / SS) / size, (j + (sj + 0.5) / SS) / size)
                    alpha = c[3]
                    acc[0] += c[0] * alpha
                    acc[1] += c[1] * alpha
                    acc[2] += c[2] * alpha
                    acc[3] += alpha
            if acc[3]:
                px = [round(acc[k] / acc[3]) for k in range(3)] + [round(acc[3] / n)]
            else:
                px = [0, 0, 0, 0]
            row.extend(px)
        rows.append(bytes(row))
    return b"".join(rows)


def png(size):
    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(render(size), 9)) + chunk(b"IEND", b""))


for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(png(size))
    print("wrote", name)

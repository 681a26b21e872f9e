"""Counts the pixels of a PNG screenshot that have a flame graph's colours.

usage: png-colours.py FILE
prints: WIDTH HEIGHT WARM
where WARM is the number of orange-to-yellow pixels (the live flame graph's
bars: red high, green between, blue low), which the page's greys, whites,
blues and greens never are. Reads 8-bit RGB or RGBA, non-interlaced PNGs
(what Chromium writes) with the standard library only.
"""
import struct
import sys
import zlib

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
offset, idat, header = 8, b"", None
while offset < len(data):
    length, kind = struct.unpack(">I4s", data[offset:offset + 8])
    body = data[offset + 8:offset + 8 + length]
    if kind == b"IHDR":
        header = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    offset += 12 + length
width, height, depth, colour, _, _, interlace = header
assert depth == 8 and colour in (2, 6) and interlace == 0, "unsupported PNG"
channels = 3 if colour == 2 else 4
stride = width * channels
raw = zlib.decompress(idat)
previous = bytearray(stride)
warm = 0
position = 0
for _ in range(height):
    kind = raw[position]
    line = bytearray(raw[position + 1:position + 1 + stride])
    position += 1 + stride
    for i in range(stride):
        left = line[i - channels] if i >= channels else 0
        up = previous[i]
        upper_left = previous[i - channels] if i >= channels else 0
        if kind == 1:
            line[i] = (line[i] + left) & 255
        elif kind == 2:
            line[i] = (line[i] + up) & 255
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 255
        elif kind == 4:
            p = left + up - upper_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
            predictor = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
            line[i] = (line[i] + predictor) & 255
    for i in range(0, stride, channels):
        r, g, b = line[i], line[i + 1], line[i + 2]
        if r > 220 and 100 < g < 225 and b < 120:
            warm += 1
    previous = line
print(width, height, warm)

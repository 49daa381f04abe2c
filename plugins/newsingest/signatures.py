"""Binary formats known by their first bytes, whatever Content-Type a server gives them."""

from __future__ import annotations

import logging
import re

LOGGER = logging.getLogger(__name__)

# (format, offset, magic bytes). Only signatures that no text starts with: four
# bytes or more, or bytes that are not UTF-8; so a headline starting "GIF" or
# "BMW" never reads as binary. Shorter magic (BMP "BM", DOS "MZ") is left to
# the control-byte test of newsingest.downloads.
SIGNATURES: tuple[tuple[str, int, bytes], ...] = (
    ("PDF document", 0, b"%PDF-"),
    ("PostScript document", 0, b"%!PS-"),
    ("zip archive (or an Office/EPUB document)", 0, b"PK\x03\x04"),
    ("empty zip archive", 0, b"PK\x05\x06"),
    ("gzip data", 0, b"\x1f\x8b\x08"),
    ("xz data", 0, b"\xfd7zXZ\x00"),
    ("zstd data", 0, b"\x28\xb5\x2f\xfd"),
    ("7-zip archive", 0, b"7z\xbc\xaf\x27\x1c"),
    ("RAR archive", 0, b"Rar!\x1a\x07"),
    ("tar archive", 257, b"ustar"),
    ("OLE document (doc, xls, ppt, msi)", 0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
    ("PNG image", 0, b"\x89PNG\r\n\x1a\n"),
    ("JPEG image", 0, b"\xff\xd8\xff"),
    ("GIF image", 0, b"GIF87a"),
    ("GIF image", 0, b"GIF89a"),
    ("TIFF image", 0, b"II*\x00"),
    ("TIFF image", 0, b"MM\x00*"),
    ("icon", 0, b"\x00\x00\x01\x00"),
    ("JPEG 2000 image", 0, b"\x00\x00\x00\x0cjP  "),
    ("Matroska/WebM video", 0, b"\x1a\x45\xdf\xa3"),
    ("Ogg media", 0, b"OggS"),
    ("FLAC audio", 0, b"fLaC"),
    ("MP3 audio", 0, b"ID3\x02"),
    ("MP3 audio", 0, b"ID3\x03"),
    ("MP3 audio", 0, b"ID3\x04"),
    ("Flash video", 0, b"FLV\x01"),
    ("MIDI audio", 0, b"MThd"),
    ("WOFF font", 0, b"wOFF"),
    ("WOFF2 font", 0, b"wOF2"),
    ("OpenType font", 0, b"OTTO"),
    ("TrueType font", 0, b"\x00\x01\x00\x00\x00"),
    ("ELF executable", 0, b"\x7fELF"),
    ("Mach-O executable", 0, b"\xcf\xfa\xed\xfe"),
    ("WebAssembly module", 0, b"\x00asm"),
    ("SQLite database", 0, b"SQLite format 3\x00"),
    ("Java class or Mach-O fat binary", 0, b"\xca\xfe\xba\xbe"),
)
# RIFF containers name their kind at offset 8; ISO media (mp4, mov, heic, avif) at offset 4.
RIFF = re.compile(rb"^RIFF....(WEBP|WAVE|AVI |RMID)", re.DOTALL)
ISO_MEDIA = re.compile(rb"^....ftyp[\x20-\x7e]{4}", re.DOTALL)
BZIP2 = re.compile(rb"^BZh[1-9]1AY&SY")
BOM = b"\xef\xbb\xbf"


def binary_format(body: bytes) -> str | None:
    """Name the binary format the body starts with, or None for anything else (text included).

    Args:
        body: the first bytes of a response (the first kilobyte is enough).

    Returns:
        A short name such as "PDF document", or None.
    """
    # Servers and editors put whitespace or a byte-order mark before a format's magic.
    stripped = body.lstrip()
    stripped = stripped.removeprefix(BOM).lstrip()
    for head in (body, stripped):
        for name, offset, magic in SIGNATURES:
            if head.startswith(magic, offset):
                return name
        if match := RIFF.match(head):
            return f"RIFF {match.group(1).decode().strip()} media"
        if ISO_MEDIA.match(head):
            return "ISO media (mp4, mov, heic, avif)"
        if BZIP2.match(head):
            return "bzip2 data"
    return None

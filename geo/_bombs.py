"""A compressed OSM file checked before it is parsed: one that grows far past its size is a decompression bomb."""

from __future__ import annotations

import bz2
from pathlib import Path

from .errors import NetworkError

#: Bytes a compressed network file may grow to per byte of itself (OSM XML in bzip2: about 10 to 20).
MAX_RATIO = 100
#: Bytes any compressed network file may grow to, whatever its size.
MAX_DECOMPRESSED = 4 << 30
#: Bytes decompressed before the ratio is held against it (a tiny file may grow more).
RATIO_AFTER = 64 << 20


def check_compressed_network(path: Path) -> None:
    """``NetworkError`` naming ``path`` if a ``.bz2`` file decompresses past :data:`MAX_RATIO` times its size.

    Or past :data:`MAX_DECOMPRESSED`. Streams through the file with bounded memory
    (1 MB of output at a time) and never keeps what it decompresses; other files pass.
    """
    if path.suffix != ".bz2":
        return
    size = max(path.stat().st_size, 1)
    cap = min(MAX_DECOMPRESSED, max(RATIO_AFTER, MAX_RATIO * size))
    out = 0
    try:
        with path.open("rb") as fh:
            stream = bz2.BZ2Decompressor()
            while chunk := fh.read(1 << 16):
                out += len(stream.decompress(chunk, max_length=1 << 20))
                while not stream.needs_input and not stream.eof and out <= cap:
                    out += len(stream.decompress(b"", max_length=1 << 20))
                if out > cap:
                    raise NetworkError(
                        f"{path}: decompresses to more than {cap >> 20:,} MB from {size:,} bytes "
                        f"(over {MAX_RATIO}x; a decompression bomb?)"
                    )
                if stream.eof:
                    break
    except (OSError, EOFError) as exc:
        raise NetworkError(f"{path}: not a readable bzip2 file ({exc})") from exc

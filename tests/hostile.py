"""A corpus of scenario files built to hurt, made on the spot (never downloaded).

:func:`corpus` gives each by case name as (form field, file name, bytes).
"""

from __future__ import annotations

import bz2
import json
import struct
from pathlib import Path

#: A tiny OSM document with one drivable road and a footway, for the cases that need a well-formed base.
_ROAD = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" lat="60.1700" lon="24.9400" version="1"/>
  <node id="2" lat="60.1710" lon="24.9410" version="1"/>
  <node id="3" lat="60.1720" lon="24.9420" version="1"/>
  <way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="{kind}"/></way>
</osm>
"""


def _billion_laughs() -> bytes:
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE osm [", '  <!ENTITY lol "lol">']
    lines += [f'  <!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10)]
    lines += ["]>", '<osm version="0.6"><node id="1" lat="60" lon="24"><tag k="name" v="&lol9;"/></node></osm>']
    return "\n".join(lines).encode()


def _external_entity() -> bytes:
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE osm [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
        b'<osm version="0.6"><node id="1" lat="60" lon="24"><tag k="name" v="&secret;"/></node></osm>\n'
    )


def _bz2_bomb(megabytes: int) -> bytes:
    """``megabytes`` MB of spaces after an OSM start tag, bzip2-compressed to a few hundred bytes."""
    comp = bz2.BZ2Compressor(9)
    out = [comp.compress(b'<?xml version="1.0"?><osm version="0.6">')]
    block = b" " * (1 << 20)
    out += [comp.compress(block) for _ in range(megabytes)]
    return b"".join([*out, comp.flush()])


def _pbf_claiming(size: int) -> bytes:
    """A PBF whose first BlobHeader says it is ``size`` bytes long (the length prefix of the file format)."""
    return struct.pack(">I", size) + b"\x0a\x09OSMHeader\x18" + b"\xff\xff\xff\xff\x07" + b"\x00" * 64


def corpus(sample: Path) -> dict[str, tuple[str, str, bytes]]:
    """Each hostile file by case name: the form field it replaces, its file name, its bytes."""
    bins = (sample / "bins.csv").read_text()
    header, first, *rest = bins.splitlines()
    cols = header.split(",")
    fleet = json.loads((sample / "fleet.json").read_text())

    def bins_with(row: str) -> bytes:
        return "\n".join([header, first, row, *rest[:5]]).encode() + b"\n"

    def row_with(**values: str) -> str:
        fields = dict(zip(cols, first.split(","), strict=False))
        fields.update(values)
        return ",".join(fields[c] for c in cols)

    return {
        "xml entity expansion": ("network", "bomb.osm", _billion_laughs()),
        "xml external entity": ("network", "xxe.osm", _external_entity()),
        "bz2 decompression bomb": ("network", "bomb.osm.bz2", _bz2_bomb(200)),
        "pbf claiming 2 GB": ("network", "huge.osm.pbf", _pbf_claiming(2**31 - 1)),
        "pbf garbage": ("network", "junk.osm.pbf", b"\x00\x00\x00\x0e" + bytes(range(256)) * 8),
        "no drivable road": ("network", "paths.osm", _ROAD.format(kind="footway").encode()),
        "huge csv line": ("bins", "bins.csv", header.encode() + b"\n" + b"B1," + b"x" * (8 << 20) + b"\n"),
        "nan coordinates": ("bins", "bins.csv", bins_with(row_with(bin_id="X1", lat="nan"))),
        "infinite coordinates": ("bins", "bins.csv", bins_with(row_with(bin_id="X1", lon="inf"))),
        "duplicate bin ids": ("bins", "bins.csv", bins_with(first)),
        "bins in utf-16": ("bins", "bins.csv", bins.encode("utf-16")),
        "bins in latin-1 with bad bytes": ("bins", "bins.csv", bins.encode() + b"B\xff\xfe,\xe9\n"),
        "bin far outside the network": ("bins", "bins.csv", bins_with(row_with(bin_id="X1", lat="0.0", lon="0.0"))),
        "deeply nested json": ("fleet", "fleet.json", b"[" * 100_000 + b"]" * 100_000),
        "nan in json": ("fleet", "fleet.json", json.dumps(fleet).replace("}", ', "x": NaN}', 1).encode()),
        "fleet not utf-8": ("fleet", "fleet.json", json.dumps(fleet).encode("utf-16")),
        "huge json number": (
            "fleet",
            "fleet.json",
            json.dumps(fleet).replace("{", '{"n": 1' + "0" * 99_999 + ",", 1).encode(),
        ),
    }


#: The cases whose hostile file is the road network.
NETWORK_CASES = (
    "xml entity expansion",
    "xml external entity",
    "bz2 decompression bomb",
    "pbf claiming 2 GB",
    "pbf garbage",
    "no drivable road",
)

#: What the answer to each case must say (besides naming its file).
EXPECTED = {
    "xml entity expansion": "entities are not supported",
    "xml external entity": "entities are not supported",
    "bz2 decompression bomb": "decompression bomb",
    "pbf claiming 2 GB": "BlobHeader size",
    "pbf garbage": "cannot read OpenStreetMap data",
    "no drivable road": "no drivable roads",
    "huge csv line": "characters)",
    "nan coordinates": "lat",
    "infinite coordinates": "lon",
    "duplicate bin ids": "already used",
    "bins in utf-16": "not a readable CSV file",
    "bins in latin-1 with bad bytes": "not a readable CSV file",
    "bin far outside the network": "km from every road",
    "deeply nested json": "nested too deeply",
    "nan in json": "got nan",
    "fleet not utf-8": "not UTF-8",
    "huge json number": "digits",
}

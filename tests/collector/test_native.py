"""The mypyc-compiled walk (collector/native.py) stores exactly what the pure-Python modules store:
the same beacons (the ingest bench's batches, and every planted value of the places test: tokens,
cards, IBANs, phones, names, multipart, HTML, base64, headers in bodies) decoded by each in its own
process, rows compared; and a build for the current sources is the one imported."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from faker import Faker

from trodden.collector import native

from . import test_privacy_places as places

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys
from pathlib import Path
import orjson
import trodden.collector.sanitize as sanitize
from trodden.collector.beacon import decode_batches
from trodden.collector.sanitize import Sanitizer

sanitizer = Sanitizer(b"k" * 32)
docs = orjson.loads(Path(sys.argv[1]).read_bytes())
out = []
for doc in docs:
    decoded = decode_batches([doc], "native", sanitizer)
    out.append([decoded.item.events, decoded.item.sessions, [r.as_json() for r in decoded.rejected]])
sys.stdout.buffer.write(orjson.dumps({"module": sanitize.__file__, "out": out}, option=orjson.OPT_NON_STR_KEYS))
"""


def _beacons(into: Path) -> Path:
    """The bench's batches and the places test's planted values, as one file both sides decode."""
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    docs = [orjson.loads(body) for body in bench.bodies_like(bench.make_templates(20, 25), 60, "n")]
    fake = Faker()
    fake.seed_instance(17)
    docs += [places.beacon(places.values(fake, i), i) for i in range(12)]
    path = into / "beacons.json"
    path.write_bytes(orjson.dumps(docs))
    return path


def _decode(beacons: Path, native_on: bool) -> dict[str, Any]:
    env = dict(os.environ, TRODDEN_NATIVE="1" if native_on else "0")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(beacons)],
        capture_output=True,
        check=True,
        env=env,
        cwd=ROOT,
    )
    result: dict[str, Any] = orjson.loads(done.stdout)
    return result


def test_compiled_and_pure_python_store_the_same_rows(tmp_path: Path) -> None:
    beacons = _beacons(tmp_path)
    pure, default = _decode(beacons, False), _decode(beacons, True)
    assert str(pure["module"]).endswith("sanitize.py")
    built = native.built()
    # The build for these sources, when there is one, is what the collector runs.
    assert str(default["module"]).endswith(".so") == (built is not None), (default["module"], built)
    if built is not None:
        assert str(default["module"]).startswith(str(built))
    assert len(pure["out"]) == 72
    assert sum(len(events) for events, _, _ in pure["out"]) > 1500
    assert default["out"] == pure["out"]


def test_an_edited_source_is_not_run_compiled(tmp_path: Path) -> None:
    """The build is keyed by the sources: any edit gives another key, so a stale build is never used."""
    before = native.key()
    copy = tmp_path / "collector"
    copy.mkdir()
    for name in native.MODULES:
        (copy / f"{name}.py").write_bytes((native.HERE / f"{name}.py").read_bytes())
    (copy / "rows.py").write_text((copy / "rows.py").read_text() + "\n# edited\n")
    original = native.HERE
    try:
        native.HERE = copy
        edited = native.key()
    finally:
        native.HERE = original
    assert edited != before
    assert native.key() == before

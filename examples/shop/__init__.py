"""The demo shop (`trodden.shop`): a small but real web shop in two versions.

Version 1 is the shop users are recorded on; version 2 is the same shop with the planted
regressions listed in `trodden.shop.regressions` (the one list the tests, the demo and the
benchmark read). Run it with `python -m trodden.shop --version 2 --port 8080`; see docs/demo.md.
"""

from __future__ import annotations

__all__ = ["create_app"]

from trodden.shop.app import create_app as create_app

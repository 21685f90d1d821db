"""Serve Kinto from an ini file on loopback (waitress, as `kinto start` does), and say where once the
socket is bound: `python realapps_kinto_serve.py CONFIG.ini --port N`. Runs in Kinto's virtualenv;
this folder is on sys.path, so `kinto.includes = realapps_kinto_plants` resolves."""

from __future__ import annotations

import argparse
import logging
import warnings

import waitress
from pyramid.paster import get_app, setup_logging


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ini")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=6)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # "HTTPS is not enabled" and friends: loopback only
    setup_logging(args.ini)
    app = get_app(args.ini, "main")
    server = waitress.create_server(
        app, host="127.0.0.1", port=args.port, threads=args.threads, clear_untrusted_proxy_headers=True
    )
    logging.getLogger("waitress").setLevel(logging.ERROR)
    print(f"kinto listening on http://127.0.0.1:{server.effective_port}", flush=True)
    server.run()


if __name__ == "__main__":
    main()

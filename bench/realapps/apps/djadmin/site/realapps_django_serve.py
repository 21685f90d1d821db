"""Run the sample site with Django's admin on loopback (waitress), or create its database.

    python realapps_django_serve.py --seed-db PATH
    python realapps_django_serve.py --db PATH --port N [--secret S] [--plants "a b"] [--tag HTML]

Runs in Django's virtualenv; this folder is on sys.path. Prints `django listening on URL` once bound.
"""

from __future__ import annotations

import argparse
import os


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=False)
    parser.add_argument("--seed-db")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", default="not-a-secret")
    parser.add_argument("--plants", default="")
    parser.add_argument("--tag", default="")
    parser.add_argument("--threads", type=int, default=6)
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "realapps_site.settings"
    os.environ["REALAPPS_DB"] = args.seed_db or args.db
    os.environ["REALAPPS_SECRET"] = args.secret
    os.environ["REALAPPS_PLANTS"] = args.plants
    os.environ["REALAPPS_TAG"] = args.tag

    import django

    django.setup()
    if args.seed_db:
        from realapps_django_seed import seed

        seed()
        return

    import waitress
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.handlers.wsgi import WSGIHandler

    if args.plants.strip():
        import realapps_django_plants

        realapps_django_plants.install(frozenset(args.plants.split()))
    app = StaticFilesHandler(WSGIHandler())
    server = waitress.create_server(app, host="127.0.0.1", port=args.port, threads=args.threads)
    print(f"django listening on http://127.0.0.1:{server.effective_port}", flush=True)
    server.run()


if __name__ == "__main__":
    main()

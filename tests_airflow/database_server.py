"""A PostgreSQL server for the Airflow tests, run with the pipeline's Python (``.venv``), which
has psycopg and the embedded server; the Airflow environment has neither.

``python database_server.py PGDATA`` starts the embedded PostgreSQL in PGDATA (or uses
``TEST_DATABASE_URL`` when set), then answers one command a line on stdin:
``create`` makes an empty database and prints its connection parameters as JSON;
``drop NAME`` drops one. At end of input it stops the embedded server it started.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

from etl_helpers import db
from etl_helpers.settings import Settings


def main(pgdata: Path) -> None:
    admin_url = os.environ.get("TEST_DATABASE_URL") or db.database_url(Settings(pgdata=pgdata))
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command, _, name = line.strip().partition(" ")
        with psycopg.connect(admin_url, autocommit=True) as admin:
            if command == "create":
                name = f"etl_airflow_{uuid.uuid4().hex[:12]}"
                admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
                params = conninfo.conninfo_to_dict(admin_url)
                params["dbname"] = name
                print(json.dumps(params), flush=True)
            elif command == "drop":
                admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
                print(json.dumps({"dropped": name}), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

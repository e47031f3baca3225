"""One settings object, rooted at the project folder: every path comes from here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The seed project's real data lives beside the checkout (never copied into it).
SEED_DATA_DIR = Path(os.environ.get("ETL_SEED_DATA_DIR") or PROJECT_ROOT.parent / "shared" / "seed-data")
SUPERSTORE_CSV = SEED_DATA_DIR / "superstore_sample.csv"

MART_NAMES = ("fact_fidelite_mart", "fact_vente_mart")


@dataclass(frozen=True)
class Settings:
    """Paths and connection choice for one checkout.

    ``database_url`` is None for the embedded PostgreSQL (the default).
    """

    root: Path = PROJECT_ROOT
    database_url: str | None = None
    pgdata: Path = field(default=None)  # type: ignore[assignment]
    workdir: Path = field(default=None)  # type: ignore[assignment]  # holds data/ and exports/

    def __post_init__(self) -> None:
        if self.pgdata is None:
            object.__setattr__(self, "pgdata", self.root / ".pgdata")
        if self.workdir is None:
            object.__setattr__(self, "workdir", self.root)

    @property
    def raw_dir(self) -> Path:
        return self.workdir / "data" / "raw"

    @property
    def processed_dir(self) -> Path:
        return self.workdir / "data" / "processed"

    @property
    def exports_dir(self) -> Path:
        return self.workdir / "exports"

    @property
    def notebooks_dir(self) -> Path:
        return self.root / "notebooks"

    @property
    def sql_dir(self) -> Path:
        return self.root / "sql"

    def export_dir(self, mart: str, run_date: str) -> Path:
        """Where a mart (or ``pipeline``) writes its files for one run date."""
        return self.exports_dir / mart / run_date

    def rejects_dir(self, run_date: str) -> Path:
        return self.processed_dir / run_date / "rejects"


def load_settings(root: Path | None = None) -> Settings:
    """Settings from the environment, then ``.env`` at the project root.

    ``DATABASE_URL`` selects a real server; without it the embedded one is used.
    ``ETL_PGDATA`` moves the embedded server's data folder; ``ETL_WORKDIR`` moves
    ``data/`` and ``exports/`` (tests point it at a temporary folder).
    """
    root = root or PROJECT_ROOT
    file_values = dotenv_values(root / ".env") if (root / ".env").exists() else {}

    def lookup(name: str) -> str | None:
        return os.environ.get(name) or file_values.get(name) or None

    pgdata = lookup("ETL_PGDATA")
    workdir = lookup("ETL_WORKDIR")
    return Settings(
        root=root,
        database_url=lookup("DATABASE_URL"),
        pgdata=Path(pgdata) if pgdata else root / ".pgdata",
        workdir=Path(workdir) if workdir else root,
    )

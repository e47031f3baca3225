"""Sources turn an external format into canonical raw files (see ``etl_helpers.contract``).

Every source writes into a raw folder laid out as the contract says; the loader only ever
reads that layout, so there is one loading path whatever the origin of the data.

- ``demo``: deterministic French retail generator (``--scale small|medium|large``,
  ``--profile retail|wholesale`` for the basket shape);
- ``canonical``: the user's own extracts, already in the contract's layout (``--raw PATH``);
- ``superstore``: the seed project's real Superstore order lines, converted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from etl_helpers.settings import SUPERSTORE_CSV, Settings

SOURCE_NAMES = ("demo", "canonical", "superstore")
# The currency of each source's amounts: the demo and canonical extracts are French retail,
# the Superstore sample is in US dollars.
SOURCE_CURRENCY = {"demo": "EUR", "canonical": "EUR", "superstore": "USD"}


@dataclass(frozen=True)
class SourceOptions:
    scale: str = "small"          # demo only
    seed: int = 42                # demo only
    profile: str = "retail"       # demo only: basket shape, retail | wholesale (demo.PROFILES)
    raw: Path | None = None       # canonical only: the user's folder
    superstore_csv: Path = SUPERSTORE_CSV
    points_rate: float = 0.10     # superstore only: loyalty points per unit of amount


def demo_folder_name(options: SourceOptions) -> str:
    """``<scale>-seed<seed>``, plus ``-<profile>`` for a profile other than retail: each
    profile's files live apart (a folder of retail files keeps its name)."""
    name = f"{options.scale}-seed{options.seed}"
    return name if options.profile == "retail" else f"{name}-{options.profile}"


def prepare_raw(source: str, settings: Settings, run_date: date, options: SourceOptions) -> Path:
    """Make sure the raw files for ``run_date`` exist; return the raw folder to load."""
    if source == "canonical":
        if options.raw is None:
            raise ValueError("the canonical source needs --raw PATH (a folder in the contract's layout)")
        if not options.raw.is_dir():
            raise FileNotFoundError(f"raw folder not found: {options.raw}")
        return options.raw
    if source == "demo":
        from etl_helpers.sources import demo

        raw_dir = settings.raw_dir / "demo" / demo_folder_name(options)
        demo.generate(raw_dir, run_date, scale=options.scale, seed=options.seed, profile=options.profile)
        return raw_dir
    if source == "superstore":
        from etl_helpers.sources import superstore

        raw_dir = settings.raw_dir / "superstore"
        superstore.convert(options.superstore_csv, raw_dir, points_rate=options.points_rate)
        return raw_dir
    raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCE_NAMES)}")

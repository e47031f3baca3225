"""Sources turn an external format into canonical raw files (see ``etl_helpers.contract``).

Every source writes into a raw folder laid out as the contract says; the loader only ever
reads that layout, so there is one loading path whatever the origin of the data.

- ``demo``: deterministic French retail generator (``--scale small|medium|large``,
  ``--profile retail|wholesale`` for the basket shape);
- ``canonical``: the user's own extracts, already in the contract's layout (``--raw PATH``);
- ``superstore``: the seed project's real Superstore order lines, converted.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from etl_helpers.settings import SUPERSTORE_CSV, Settings
from etl_helpers.writing import write_bytes_if_changed

log = logging.getLogger(__name__)

SOURCE_NAMES = ("demo", "canonical", "superstore")
# The currency of each source's amounts: the demo and canonical extracts are French retail,
# the Superstore sample is in US dollars.
SOURCE_CURRENCY = {"demo": "EUR", "canonical": "EUR", "superstore": "USD"}


@dataclass(frozen=True)
class SourceOptions:
    scale: str = "small"  # demo only
    seed: int = 42  # demo only
    profile: str = "retail"  # demo only: basket shape, retail | wholesale (demo.PROFILES)
    raw: Path | None = None  # canonical only: the user's folder
    superstore_csv: Path = SUPERSTORE_CSV
    points_rate: float = 0.10  # superstore only: loyalty points per unit of amount


def demo_folder_name(options: SourceOptions) -> str:
    """``<scale>-seed<seed>``, plus ``-<profile>`` for a profile other than retail: each
    profile's files live apart (a folder of retail files keeps its name)."""
    name = f"{options.scale}-seed{options.seed}"
    return name if options.profile == "retail" else f"{name}-{options.profile}"


# Left in a folder the pipeline writes (demo, superstore) by prepare_raw: what it was prepared
# for. A dot file: the contract's lister never takes it for a raw file.
PREPARED_MARK = ".prepared.json"


def raw_folder(source: str, settings: Settings, options: SourceOptions) -> Path:
    """The raw folder of ``source`` (nothing is checked or written)."""
    if source == "canonical":
        if options.raw is None:
            raise ValueError("the canonical source needs --raw PATH (a folder in the contract's layout)")
        return options.raw
    if source == "demo":
        return settings.raw_dir / "demo" / demo_folder_name(options)
    if source == "superstore":
        return settings.raw_dir / "superstore"
    raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCE_NAMES)}")


def prepare_raw(source: str, settings: Settings, run_date: date, options: SourceOptions) -> Path:
    """Make sure the raw files for ``run_date`` exist; return the raw folder to load. A run
    prepares it once (10_dimensions); 20_facts reads it through :func:`prepared_raw`."""
    raw_dir = raw_folder(source, settings, options)
    if source == "canonical":
        if not raw_dir.is_dir():
            raise FileNotFoundError(f"raw folder not found: {raw_dir}")
        return raw_dir
    if source == "demo":
        from etl_helpers.sources import demo

        if ready_raw(source, settings, run_date, options) is None:
            demo.generate(raw_dir, run_date, scale=options.scale, seed=options.seed, profile=options.profile)
        else:  # a folder it prepared, checked then: nothing to write, no generator to build (about a second)
            log.info("raw folder %s: every file up to %s there already", raw_dir, run_date)
    else:
        from etl_helpers.sources import superstore

        superstore.convert(options.superstore_csv, raw_dir, points_rate=options.points_rate)
    write_bytes_if_changed(raw_dir / PREPARED_MARK, _mark(source, run_date, options).encode("utf-8"))
    return raw_dir


def prepared_raw(source: str, settings: Settings, run_date: date, options: SourceOptions) -> Path:
    """The raw folder as :func:`prepare_raw` left it for this source, run date and options
    (the run's 10_dimensions step), without preparing it again; prepared now otherwise (a step
    run on its own for another date)."""
    raw_dir = raw_folder(source, settings, options)
    mark = raw_dir / PREPARED_MARK
    if (
        source != "canonical"
        and mark.is_file()
        and mark.read_text(encoding="utf-8") == _mark(source, run_date, options)
    ):
        log.info("raw folder %s: prepared for %s already", raw_dir, run_date)
        return raw_dir
    return prepare_raw(source, settings, run_date, options)


def ready_raw(source: str, settings: Settings, run_date: date, options: SourceOptions) -> Path | None:
    """The raw folder of ``source`` if preparing it for ``run_date`` would write nothing, so that
    its files can be listed as they are; None if it must be prepared first (a file to write).
    Cheap: no generator built, no file read but the folder's mark (and the Superstore CSV's
    name and size, which the caller hashes).

    - canonical: the user's folder, as it is;
    - demo: prepared before for these options (any run date), and every file of the window there;
    - superstore: converted before with these options (the CSV's content is the caller's input).
    """
    raw_dir = raw_folder(source, settings, options)
    if source == "canonical":
        return raw_dir if raw_dir.is_dir() else None
    if not _prepared_for(raw_dir / PREPARED_MARK, source, options):
        return None
    if source == "demo":
        from etl_helpers.sources import demo

        return raw_dir if demo.window_complete(raw_dir, run_date) else None
    return raw_dir


def _prepared_for(mark: Path, source: str, options: SourceOptions) -> bool:
    """The mark says the folder was prepared for ``source`` with ``options`` (for any run date)."""
    try:
        fields = json.loads(mark.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    fields.pop("run_date", None)
    return fields == json.loads(json.dumps({"source": source, **asdict(options)}, default=str))


def _mark(source: str, run_date: date, options: SourceOptions) -> str:
    fields = {"source": source, "run_date": run_date.isoformat(), **asdict(options)}
    return json.dumps(fields, default=str, sort_keys=True)

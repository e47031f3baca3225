"""A minimal valid canonical raw folder for loader tests, and the database probes they share.

:func:`build` writes two regions, two stores, three products, three customers, two daily
sales files and one loyalty file, all valid: a test then changes only what it is about.
The probes read back the ledger, the quarantine (table and rejects file) and a snapshot of
everything a load may write, so "nothing committed" is one equality.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from psycopg import sql

from etl_helpers import calendar, db, schema
from etl_helpers.contract import ENTITIES, raw_path
from etl_helpers.data_tests import run_data_tests
from etl_helpers.loading import ledger
from etl_helpers.loading.load import load_raw_folder
from etl_helpers.loading.shared import FileResult
from etl_helpers.settings import Settings
from etl_helpers.writing import neutralise_formula

RUN_DATE = date(2026, 11, 30)
REF_DAY = date(2026, 1, 1)          # reference snapshots
DAY1 = date(2026, 3, 2)             # daily files
DAY2 = date(2026, 3, 3)

REGIONS = [
    {"region_code": "IDF", "region_name": "Île-de-France", "population": "12300000"},
    {"region_code": "ARA", "region_name": "Auvergne-Rhône-Alpes", "population": "8100000"},
]
STORES = [
    {"store_code": "S001", "store_name": "Hyper Évry", "banner": "hyper", "city": "Évry",
     "postal_code": "91000", "region_code": "IDF", "opened_on": "2010-05-01"},
    {"store_code": "S002", "store_name": "Super Lyon Part-Dieu", "banner": "super", "city": "Lyon",
     "postal_code": "69003", "region_code": "ARA", "opened_on": ""},
]
PRODUCTS = [
    {"product_code": "P001", "product_name": "Baguette tradition", "category": "Boulangerie",
     "subcategory": "Pain", "brand": "Maison", "list_price": "1.20"},
    {"product_code": "P002", "product_name": "Café moulu 250 g", "category": "Épicerie",
     "subcategory": "Café", "brand": "Carte Noire", "list_price": "3.95"},
    {"product_code": "P003", "product_name": "Lait demi-écrémé 1 L", "category": "Crèmerie",
     "subcategory": "Lait", "brand": "", "list_price": "1.05"},
]
CUSTOMERS = [
    {"customer_code": "C001", "birth_year": "1980", "gender": "F", "city": "Paris", "region_code": "IDF",
     "has_loyalty_card": "true", "enrolled_on": "2020-01-15", "tier": "gold", "segment": "famille"},
    {"customer_code": "C002", "birth_year": "1975", "gender": "M", "city": "Lyon", "region_code": "ARA",
     "has_loyalty_card": "true", "enrolled_on": "2021-06-01", "tier": "silver", "segment": "senior"},
    {"customer_code": "C003", "birth_year": "", "gender": "", "city": "", "region_code": "",
     "has_loyalty_card": "false", "enrolled_on": "", "tier": "", "segment": ""},
]


def sale(ticket_id: str = "T0001", line_number: int = 1, sold_at: str = "2026-03-02T10:15:00+01:00",
         store_code: str = "S001", customer_code: str = "C001", product_code: str = "P001",
         quantity: str = "1", unit_price: str = "1.20", discount: str = "0", amount: str = "") -> dict:
    """One ticket line; ``amount`` empty lets the loader compute it."""
    return {"ticket_id": ticket_id, "line_number": str(line_number), "sold_at": sold_at,
            "store_code": store_code, "customer_code": customer_code, "product_code": product_code,
            "quantity": quantity, "unit_price": unit_price, "discount": discount, "amount": amount}


def event(event_id: str = "E0001", occurred_at: str = "2026-03-02T10:16:00+01:00", customer_code: str = "C001",
          store_code: str = "S001", ticket_id: str = "T0001", points_earned: str = "6",
          points_redeemed: str = "0") -> dict:
    return {"event_id": event_id, "occurred_at": occurred_at, "customer_code": customer_code,
            "store_code": store_code, "ticket_id": ticket_id, "points_earned": points_earned,
            "points_redeemed": points_redeemed}


SALES = {
    DAY1: [
        sale("T0001", 1, "2026-03-02T10:15:00+01:00", "S001", "C001", "P001", "2", "1.20", "0", "2.40"),
        sale("T0001", 2, "2026-03-02T10:15:00+01:00", "S001", "C001", "P002", "1", "3.95", "0.10", "3.56"),
        sale("T0002", 1, "2026-03-02T17:40:12", "S002", "", "P003", "3", "1.05", "0", "3.15"),
    ],
    DAY2: [
        sale("T0003", 1, "2026-03-03T09:05:00Z", "S002", "C002", "P002", "2", "3.95", "0", "7.90"),
        sale("T0003", 2, "2026-03-03T09:05:00Z", "S002", "C002", "P001", "-1", "1.20", "0", "-1.20"),
    ],
}
LOYALTY = {
    DAY1: [
        event("E0001", "2026-03-02T10:16:00+01:00", "C001", "S001", "T0001", "6", "0"),
        event("E0002", "2026-03-02T18:00:00", "C002", "S002", "", "0", "100"),
    ],
}


def control_total(rows: list[dict]) -> Decimal:
    return sum((Decimal(r["amount"].replace(",", ".")) for r in rows), Decimal("0"))


@dataclass
class RawFolder:
    """A canonical raw folder under ``root``; files are written in ``encoding`` with ``delimiter``."""

    root: Path
    encoding: str = "utf-8"
    delimiter: str = ","

    def path(self, entity: str, day: date) -> Path:
        return raw_path(self.root, entity, day)

    def header(self, entity: str, columns: list[str] | None = None) -> str:
        return self.delimiter.join(columns or ENTITIES[entity].column_names)

    def line(self, row: dict | list, columns: list[str] | None = None, entity: str = "sales") -> str:
        """One CSV line (no newline) for a row given as a dict (contract order) or a list."""
        values = row if isinstance(row, list) else [row.get(c, "") for c in (columns or ENTITIES[entity].column_names)]
        out = io.StringIO()
        csv.writer(out, delimiter=self.delimiter, lineterminator="").writerow(values)
        return out.getvalue()

    def text(self, entity: str, rows: list[dict], columns: list[str] | None = None) -> str:
        lines = [self.header(entity, columns)] + [self.line(r, columns, entity) for r in rows]
        return "\n".join(lines) + "\n"

    def write_rows(self, entity: str, day: date, rows: list[dict], columns: list[str] | None = None) -> Path:
        return self.write_text(entity, day, self.text(entity, rows, columns))

    def write_text(self, entity: str, day: date, text: str, encoding: str | None = None) -> Path:
        return self.write_bytes(entity, day, text.encode(encoding or self.encoding))

    def write_bytes(self, entity: str, day: date, data: bytes) -> Path:
        path = self.path(entity, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def declare(self, **fmt: str) -> None:
        """Write ``format.json`` (encoding, delimiter, decimal, date_format)."""
        (self.root / "format.json").write_text(json.dumps(fmt), encoding="utf-8")
        self.encoding = fmt.get("encoding", self.encoding)
        self.delimiter = fmt.get("delimiter", self.delimiter)


MONEY_COLUMNS = ("list_price", "unit_price", "discount", "amount")


def with_decimal_comma(row: dict) -> dict:
    """A row as a French export writes it: 12,50 rather than 12.50."""
    return {k: (v.replace(".", ",") if k in MONEY_COLUMNS else v) for k, v in row.items()}


def build(root: Path, *, encoding: str = "utf-8", delimiter: str = ",", decimal: str = ".", sales: bool = True,
          loyalty: bool = True) -> RawFolder:
    """The minimal valid folder: reference snapshots dated REF_DAY, sales on DAY1 and DAY2, loyalty on DAY1.
    With ``decimal=","`` every number is written with a decimal comma (format.json says so too)."""
    folder = RawFolder(root, encoding, delimiter)
    root.mkdir(parents=True, exist_ok=True)
    written = with_decimal_comma if decimal == "," else (lambda row: row)
    for entity, rows in (("regions", REGIONS), ("stores", STORES), ("products", PRODUCTS), ("customers", CUSTOMERS)):
        folder.write_rows(entity, REF_DAY, [written(r) for r in rows])
    if sales:
        for day, rows in SALES.items():
            folder.write_rows("sales", day, [written(r) for r in rows])
    if loyalty:
        for day, rows in LOYALTY.items():
            folder.write_rows("loyalty", day, rows)
    return folder


def load(settings: Settings, folder: RawFolder | Path, run_date: date = RUN_DATE, **kwargs) -> list[FileResult]:
    root = folder.root if isinstance(folder, RawFolder) else folder
    return load_raw_folder(settings, root, run_date, progress=False, **kwargs)


# children before parents; any other pipeline table is emptied after these
RESET_ORDER = ("warehouse.fact_ventes", "warehouse.fact_fidelite", "etl.rejected_rows", "etl.loaded_files", "etl.runs",
               "warehouse.dim_magasin", "warehouse.dim_client", "warehouse.dim_produit", "warehouse.dim_region")


def emptied(url: str, workdir: Path) -> Settings:
    """Settings for the database at ``url``, its warehouse emptied (``delete`` is several times
    faster than ``truncate`` on tables this small), and a work folder."""
    with db.connect(url=url) as conn:
        others = [f"{s}.{t}" for s, t in schema.existing_tables(conn) if s in ("warehouse", "etl")]
        for table in [*RESET_ORDER, *(t for t in others if t not in RESET_ORDER)]:
            conn.execute(sql.SQL("delete from {}").format(sql.Identifier(*table.split("."))))
        conn.commit()
    return Settings(database_url=url, workdir=workdir)


# --- probes -----------------------------------------------------------------------------

TABLES = ("dim_region", "dim_magasin", "dim_produit", "dim_client", "fact_ventes", "fact_fidelite")


def query(settings: Settings, text: str, params: tuple = ()) -> list[tuple]:
    with db.connection(settings) as conn:
        return conn.execute(text, params).fetchall()


def scalar(settings: Settings, text: str, params: tuple = ()):
    return query(settings, text, params)[0][0]


def counts(settings: Settings) -> dict[str, int]:
    return {t: scalar(settings, f"select count(*) from warehouse.{t}") for t in TABLES}


def snapshot(settings: Settings) -> dict:
    """Everything a load writes: every warehouse row, the ledger, the quarantine."""
    state: dict = {}
    with db.connection(settings) as conn:
        for table in TABLES:
            state[table] = conn.execute(
                f"select coalesce(string_agg(t::text, E'\\n' order by t::text), '') from warehouse.{table} t"
            ).fetchone()[0]
        state["loaded_files"] = conn.execute(
            "select file_id, path, sha256, rows_read, rows_loaded, rows_rejected, is_current "
            "from etl.loaded_files order by file_id").fetchall()
        state["rejected_rows"] = conn.execute(
            "select file_id, line_number, reason, raw_text from etl.rejected_rows order by 1, 2").fetchall()
    return state


def ledger_row(settings: Settings, path: Path) -> dict | None:
    rows = query(settings, "select file_id, rows_read, rows_loaded, rows_rejected from etl.loaded_files "
                           "where path = %s and is_current", (ledger.ledger_key(path),))
    if not rows:
        return None
    file_id, read, loaded, rejected = rows[0]
    return {"file_id": file_id, "read": read, "loaded": loaded, "rejected": rejected}


def rejected(settings: Settings, path: Path) -> dict[int, tuple[str, str]]:
    """line number -> (reason, raw text) quarantined in etl.rejected_rows for the current file."""
    rows = query(settings, "select r.line_number, r.reason, r.raw_text from etl.rejected_rows r "
                           "join etl.loaded_files l using (file_id) where l.path = %s and l.is_current "
                           "order by 1", (ledger.ledger_key(path),))
    return {line: (reason, raw) for line, reason, raw in rows}


def rejects_file(settings: Settings, path: Path, run_date: date = RUN_DATE) -> list[dict]:
    target = settings.rejects_dir(run_date.isoformat()) / path.name
    if not target.exists():
        return []
    with target.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def data_lines(path: Path) -> int:
    """Rows in a raw file by the contract's definition: lines after the header, blank lines left out."""
    lines = path.read_bytes().split(b"\n")[1:]
    return sum(1 for line in lines if line.rstrip(b"\r"))


def assert_quarantined(settings: Settings, path: Path, expected: dict[int, str],
                       run_date: date = RUN_DATE) -> dict[int, tuple[str, str]]:
    """Exactly the ``expected`` lines of ``path`` are quarantined, each with a reason containing
    the given text, in etl.rejected_rows AND in data/processed/<run date>/rejects/<file name>."""
    in_table = rejected(settings, path)
    assert set(in_table) == set(expected), f"quarantined lines {sorted(in_table)} != {sorted(expected)}"
    for line, reason in expected.items():
        assert reason in in_table[line][0], f"line {line}: reason {in_table[line][0]!r} lacks {reason!r}"
        assert in_table[line][1], f"line {line}: no raw text kept"
    in_file = rejects_file(settings, path, run_date)
    assert [r["source_file"] for r in in_file] == [str(path)] * len(expected)
    assert {int(r["line_number"]): (r["reason"], r["raw_text"]) for r in in_file} == {  # as a spreadsheet shows it
        line: (neutralise_formula(reason), neutralise_formula(raw)) for line, (reason, raw) in in_table.items()}
    return in_table


def assert_reconciled(settings: Settings, folder: RawFolder | None = None) -> None:
    """Rows read = loaded + rejected for every file in the ledger; rejected = its quarantined rows;
    loaded = its fact rows; and rows read = the file's non-blank data lines (counted here, independently)."""
    with db.connection(settings) as conn:
        files = conn.execute(
            """
            select l.file_id, l.read_from, l.entity, l.sha256, l.rows_read, l.rows_loaded, l.rows_rejected, l.is_current,
                   (select count(*) from etl.rejected_rows r where r.file_id = l.file_id),
                   (select count(*) from warehouse.fact_ventes f where f.file_id = l.file_id)
                 + (select count(*) from warehouse.fact_fidelite f where f.file_id = l.file_id)
            from etl.loaded_files l order by l.file_id
            """).fetchall()
    for file_id, path, entity, sha, read, loaded, rejected_count, current, quarantined, facts in files:
        assert read == loaded + rejected_count, f"{path}: read {read} != {loaded} + {rejected_count}"
        assert rejected_count == quarantined, f"{path}: {rejected_count} rejected but {quarantined} quarantined"
        if current and entity in ("sales", "loyalty"):
            assert facts == loaded, f"{path}: {loaded} loaded but {facts} fact rows"
        if current and Path(path).exists() and ledger.file_sha256(Path(path)) == sha:
            assert read == data_lines(Path(path)), f"{path}: read {read} != {data_lines(Path(path))} data lines"


def assert_data_tests_pass(settings: Settings) -> None:
    """The warehouse's own data tests (keys, joins to dims, return flags, ledger), dim_temps built first."""
    with db.connection(settings) as conn:
        calendar.build_dim_temps(conn, REF_DAY, RUN_DATE)
        run_data_tests(conn)

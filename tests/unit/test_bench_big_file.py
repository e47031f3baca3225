"""The benchmark's big sales file (``--big-file-gb``): one file dated the run date, whose
ticket lines are the source's last days, repeated with unique keys, in date order."""

from __future__ import annotations

import csv
from datetime import timedelta

from bench import run


def test_big_file_repeats_recent_lines_with_unique_keys(tmp_path, monkeypatch):
    source = tmp_path / "source"
    (source / "sales").mkdir(parents=True)
    (source / "stores").mkdir()
    (source / "stores" / f"stores_{run.RUN_DATE}.csv").write_text("store_code\nS001\n")
    header = "ticket_id,line_number,sold_at,store_code,customer_code,product_code,quantity,unit_price,discount,amount\n"
    for days_before in (400, 2, 1):  # the first is older than the file may hold: left out
        day = run.RUN_DATE - timedelta(days=days_before)
        lines = "".join(f"T{day:%Y%m%d}-{n},1,{day}T10:00:00+01:00,S001,,P1,1,2.00,0,2.00\n" for n in range(3))
        (source / "sales" / f"sales_{day}.csv").write_text(header + lines)
    monkeypatch.setattr(run, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(run, "demo_raw", lambda scale: source)

    raw = run.big_sales_raw(0.000001)  # about 1 kB: a few copies of the 6 recent lines

    files = list((raw / "sales").iterdir())
    assert [f.name for f in files] == [f"sales_{run.RUN_DATE}.csv"]
    with files[0].open(newline="") as f:
        rows = list(csv.DictReader(f))
    copies = len(rows) // 6
    assert copies > 1 and len(rows) == 6 * copies
    assert len({(r["ticket_id"], r["line_number"]) for r in rows}) == len(rows)
    assert [r["sold_at"] for r in rows] == sorted(r["sold_at"] for r in rows)
    assert {r["ticket_id"].split("-")[0] for r in rows} == {
        f"T{run.RUN_DATE - timedelta(days=d):%Y%m%d}" for d in (2, 1)
    }
    assert (raw / "stores").resolve() == (source / "stores").resolve()
    assert run.big_sales_raw(0.000001) == raw  # generated once

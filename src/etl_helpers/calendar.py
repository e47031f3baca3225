"""``dim_temps``: one row per day, with French public holidays (metropolitan France)."""

from __future__ import annotations

from datetime import date

import holidays
import psycopg


def french_holidays(first_year: int, last_year: int) -> dict[date, str]:
    return dict(holidays.France(years=range(first_year, last_year + 1), language="fr"))


def build_dim_temps(conn: psycopg.Connection, first_day: date, last_day: date) -> int:
    """Add every day of the years spanning [first_day, last_day] that is missing; returns rows added."""
    first, last = date(first_day.year, 1, 1), date(last_day.year, 12, 31)
    with conn.cursor() as cur:
        cur.execute("create temp table if not exists holiday_list (day date primary key, name text) on commit drop")
        cur.execute("truncate holiday_list")
        with cur.copy("copy holiday_list (day, name) from stdin") as copy:
            for day, name in sorted(french_holidays(first.year, last.year).items()):
                copy.write_row((day, name))
        cur.execute(
            """
            insert into warehouse.dim_temps
                (date_id, year, quarter, month, iso_year, iso_week, day_of_month, day_of_week,
                 is_weekend, is_ferie, holiday_name)
            select
                d::date,
                extract(year from d)::int,
                extract(quarter from d)::int,
                extract(month from d)::int,
                extract(isoyear from d)::int,
                extract(week from d)::int,
                extract(day from d)::int,
                extract(isodow from d)::int,
                extract(isodow from d) >= 6,
                h.day is not null,
                h.name
            from generate_series(%s::date, %s::date, interval '1 day') as d
            left join holiday_list h on h.day = d::date
            on conflict (date_id) do nothing
            """,
            (first, last),
        )
        return cur.rowcount

"""The marts' shared functions: SQL functions on PostgreSQL, their PL/pgSQL form on Citus
(which plans a SQL function's body without inlining it when its call joins a distributed or
reference table). The cluster itself runs them in tests/integration/test_citus.py."""

from __future__ import annotations

from datetime import date

from etl_helpers import citus, db, views

STABLE = sorted(path for path in views.SHARED_FUNCTIONS.glob("*.sql")
                if "\nstable\n" in path.read_text(encoding="utf-8"))
# the arguments after the dates of the functions that take more: each list is checked
MORE_ARGUMENTS = {"ranked_products": [("product",), ("category",), ("region",), ("year",)]}


def test_on_postgresql_the_shared_functions_are_created_as_written(warehouse):
    with db.connection(warehouse) as conn:
        names = views.create_functions(conn)
        languages = dict(conn.execute(
            "select p.proname, l.lanname from pg_proc p join pg_language l on l.oid = p.prolang "
            "where p.pronamespace = 'marts'::regnamespace").fetchall())
    assert names and {languages[name] for name in names} == {"sql"}


def test_every_stable_shared_function_has_a_plpgsql_form_returning_the_same_rows(demo_warehouse):
    assert STABLE
    with db.connection(demo_warehouse) as conn:  # read-only: the PL/pgSQL forms are rolled back
        for path in STABLE:
            name = path.stem
            text = path.read_text(encoding="utf-8")
            plpgsql = citus.as_plpgsql(text)
            assert "language plpgsql" in plpgsql and "language sql" not in plpgsql, name
            (arguments,) = conn.execute("select pronargs from pg_proc where oid = %s::regproc",
                                        (f"marts.{name}",)).fetchone()
            calls = []
            for more in MORE_ARGUMENTS.get(name, [()]):
                dates = arguments - len(more)
                bounds = [date(2025, 12, 15), date(2026, 11, 20)][:dates]  # dates; partial edge months
                query = f"select * from marts.{name}({', '.join(['%s::date'] * dates + ['%s'] * len(more))})"
                calls.append((query, [*bounds, *more]))
            as_sql = [conn.execute(query, values).fetchall() for query, values in calls]
            conn.execute(plpgsql)
            for (query, values), rows in zip(calls, as_sql):
                assert rows and conn.execute(query, values).fetchall() == rows, (name, values)
        conn.rollback()
    assert citus.as_plpgsql((views.SHARED_FUNCTIONS / "window_months.sql").read_text(encoding="utf-8")) \
        == (views.SHARED_FUNCTIONS / "window_months.sql").read_text(encoding="utf-8")  # immutable: as written

from etl_helpers import db, schema


def test_schema_applies_twice_and_creates_the_star(settings):
    with db.connection(settings) as conn:
        schema.apply_schema(conn)
        schema.apply_schema(conn)
        tables = {t for _, t in schema.existing_tables(conn)}
        version = conn.execute("show server_version_num").fetchone()[0]
    assert {"dim_client", "dim_magasin", "dim_produit", "dim_temps", "dim_region",
            "fact_ventes", "fact_fidelite", "loaded_files", "rejected_rows", "runs"} <= tables
    assert int(version) >= 150000

"""Running the notebooks for a run date, by job:

- :mod:`~etl_helpers.run.steps`: the steps, run dates and step selection, the run request;
- :mod:`~etl_helpers.run.params`: the parameters (overrides checked) and header each notebook gets;
- :mod:`~etl_helpers.run.execute`: executing one notebook and rendering its report;
- :mod:`~etl_helpers.run.manifest`: run folders, manifests, publication, history;
- :mod:`~etl_helpers.run.pipeline`: the run itself, with its lock, log and process pool.
"""

"""A local Citus cluster for development, tests and the benchmark (``make citus-up``)."""

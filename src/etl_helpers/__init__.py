"""Helpers for the loyalty & sales analytics pipeline.

Everything a notebook or ``run_pipeline.py`` calls lives here:
settings and database access, raw sources, the validated loader,
the named views, the marts and their exports, and the notebook runner.
"""

__version__ = "0.1.0"

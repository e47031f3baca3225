#!/usr/bin/env python3
"""Run the loyalty & sales pipeline headless: ``python run_pipeline.py --date 2026-11-30``.

All the logic lives in ``etl_helpers``; see ``--help``.
"""

import sys

from etl_helpers.cli import main

if __name__ == "__main__":
    sys.exit(main())

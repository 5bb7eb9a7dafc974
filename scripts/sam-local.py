"""`sam local start-api` against emulated AWS: see scripts/emulated/sam_local.py and docs/sam-local.md."""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parent / "emulated" / "sam_local.py"), run_name="__main__")

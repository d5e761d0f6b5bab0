"""The served app plus one bare route, for `scripts/bench.py` only (served by uvicorn as
`bench_app:app`; not a script to run).

`GET /bench/bare` answers the JSON of a real contact (read from the file named by
`BENCH_BARE_JSON`) with no token check and no database: the ratio of its request rate
to the real `GET /api/contacts/{id}` is what our own work costs on top of FastAPI.
"""

import json
import os
from pathlib import Path
from typing import Any

from contacts_api.main import app

BARE_BODY: dict[str, Any] = json.loads(Path(os.environ["BENCH_BARE_JSON"]).read_text())


@app.get("/bench/bare", include_in_schema=False)
async def bare() -> dict[str, Any]:
    return BARE_BODY

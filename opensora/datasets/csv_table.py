"""Open-Sora's dataset CSV: ``path,text[,num_frames,height,width,fps]`` (extra columns are kept)."""
from __future__ import annotations

import csv
from pathlib import Path

NUMERIC_COLUMNS = {"num_frames": int, "height": int, "width": int, "fps": float}


def _parse_row(row: dict, line: int, csv_path: Path) -> dict:
    out = dict(row)
    for key, cast in NUMERIC_COLUMNS.items():
        value = (row.get(key) or "").strip()
        try:
            out[key] = cast(float(value)) if value else None
        except ValueError:
            raise ValueError(f"{csv_path}:{line}: column {key!r} must be a number, got {value!r}") from None
    path = Path(row["path"])
    out["path"] = str(path if path.is_absolute() else csv_path.parent / path)
    out["text"] = row.get("text") or ""
    return out


def read_csv(csv_path, required=("path", "text")) -> list[dict]:
    """Rows of ``csv_path`` as dicts; relative ``path`` values are resolved against the CSV's folder.

    Missing numeric cells become ``None``. Raises ``ValueError`` naming the file and the missing columns.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"dataset CSV {csv_path} does not exist; build one with "
                                f"`python tools/build_csv.py VIDEO_DIR --output {csv_path}`")
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{csv_path} lacks the columns {missing}; found {reader.fieldnames}; "
                             f"expected at least {list(required)}")
        rows = [_parse_row(row, i + 2, csv_path) for i, row in enumerate(reader)]
    if not rows:
        raise ValueError(f"{csv_path} has a header but no rows")
    return rows


def write_csv(csv_path, rows: list[dict], columns) -> Path:
    """Write ``rows`` (dicts) with ``columns`` in that order."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return csv_path

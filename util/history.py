"""Per-epoch histories kept as JSON lines (losses, held-out scores), cut back when a run resumes."""
from __future__ import annotations

import json
import os
from typing import Callable


def keep_entries(path: str, keep: Callable[[dict], bool] | None) -> list[dict]:
    """The entries of the JSON-lines file `path` for which `keep` is true (none when `keep` is None: a new run);
    the file is rewritten to hold just them. Lines cut short by a crash, or damaged, are dropped."""
    kept = []
    if keep is not None and os.path.isfile(path):
        with open(path, errors="replace") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                    if keep(entry):
                        kept.append(entry)
                except (ValueError, KeyError, TypeError):
                    continue
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.writelines(json.dumps(e) + "\n" for e in kept)
    os.replace(path + ".tmp", path)
    return kept

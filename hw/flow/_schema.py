"""The JSON Schema of every export's metadata (``export.schema.json``, shipped in the package)
and its validation with the ``jsonschema`` library."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import UnitConfigError

__all__ = ["EXPORT_SCHEMA_FILE", "export_schema", "validate_export"]

#: file name of the schema inside the ``hw.flow`` package
EXPORT_SCHEMA_FILE = "export.schema.json"


@lru_cache(maxsize=1)
def export_schema() -> dict[str, Any]:
    """The export schema (a JSON Schema, draft 2020-12), read from the installed package."""
    return json.loads(resources.files(__package__).joinpath(EXPORT_SCHEMA_FILE).read_text(encoding="utf-8"))


def validate_export(meta: Any) -> None:
    """Raise ``UnitConfigError`` unless ``meta`` follows ``export.schema.json``.

    The message names the first offending location (a JSON path) and the rule it breaks.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(export_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(meta))
    if error is not None:
        where = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)
        raise UnitConfigError(f"export metadata must follow {EXPORT_SCHEMA_FILE}, not {where}: {error.message}")

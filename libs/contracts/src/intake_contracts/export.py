"""JSON Schema of every event and command, for other subscribers: `intake-export-schemas DIR`."""

import json
import sys
from pathlib import Path

from intake_contracts.commands import COMMAND_MODELS
from intake_contracts.envelope import Envelope
from intake_contracts.events import EVENT_MODELS


def schemas() -> dict[str, dict[str, object]]:
    """Every schema by file name; deterministic so CI can compare it with the checked-in copy."""
    documents: dict[str, dict[str, object]] = {"envelope.json": Envelope.model_json_schema()}
    for event_type, (model, topic) in EVENT_MODELS.items():
        schema = model.model_json_schema()
        schema["x-intake-topic"] = topic
        schema["x-intake-type"] = str(event_type)
        documents[f"events/{event_type}.json"] = schema
    for command_type, (request, result) in COMMAND_MODELS.items():
        documents[f"commands/{command_type}.json"] = {
            "x-intake-type": str(command_type),
            "request": request.model_json_schema(),
            "result": result.model_json_schema(),
        }
    return documents


def write(target: Path) -> list[Path]:
    written = []
    for name, schema in sorted(schemas().items()):
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")
    for path in write(target):
        sys.stdout.write(f"{path}\n")

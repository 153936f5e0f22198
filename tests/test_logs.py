import json
import logging
import sys
from datetime import UTC, datetime
from enum import Enum

from order_service.kit.logs import JsonFormatter


class Colour(Enum):
    red = "red"


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("order_service.http", logging.INFO, None, 0, "%s %s", ("a", 1), None)
    record.__dict__.update(extra)
    return record


def test_a_line_is_one_json_object_with_the_extras() -> None:
    when = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    line = JsonFormatter().format(
        _record(request_id="r1", status=201, actor={"id": "key_1"}, at=when, colour=Colour.red)
    )
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "info"
    assert entry["logger"] == "order_service.http"
    assert entry["msg"] == "a 1"
    assert entry["request_id"] == "r1"
    assert entry["status"] == 201
    assert entry["actor"] == {"id": "key_1"}
    assert entry["at"] == "2026-12-01T08:00:00Z"
    assert entry["colour"] == "red"
    assert datetime.fromisoformat(entry["ts"]).tzinfo is not None
    assert "args" not in entry and "levelno" not in entry


def test_unserialisable_values_and_tracebacks_still_make_a_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record(thing=object(), odd="\ud800")
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["thing"].startswith("<object object")
    assert entry["odd"] == "\ud800"
    assert "ValueError: boom" in entry["exc"]

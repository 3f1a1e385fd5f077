"""Reading the JSON files a command is handed into typed models, with one error line.

Every file a command reads -- a Terraform plan JSON, the drift-ignore file, a recorded
inventory or trigger list, an adoption record -- is decoded by ``read_json`` and checked
against its pydantic model by ``validated``. What cannot be used is an
``infra.errors.InputError`` whose one line names the file, the field path of the first problem
(``resource_changes[3].change.actions``), what was expected and the value found:

    plan.json: resource_changes[3].change.actions[0]: expected 'no-op', 'create', ...,
    found 'explode' (google_pubsub_topic.t)

The models share ``STRICT``: no ``"3"`` for 3, no ``1`` for true, and fields a model does not
name are ignored (Terraform and Google add fields over time).

Validators of those models raise ``ValueError("expected …")`` (the value found is added here)
or ``document_error("…")`` for a file that is not the kind of file at all (no value added).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from infra.errors import InputError, shown

STRICT = ConfigDict(strict=True, extra="ignore", frozen=True)
"""The configuration of every input model: strict types, unknown fields ignored, immutable."""

STRICT_ROOT = ConfigDict(strict=True, frozen=True)
"""``STRICT`` for a ``RootModel`` (a file that is a list), which has no fields to ignore."""

DOCUMENT = "document"
"""The error type of ``document_error``: the file is not the kind of file expected."""

Location = tuple[int | str, ...]
"""Where pydantic found a problem: names of object fields and map keys, indices of lists."""

M = TypeVar("M", bound=BaseModel)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_EXPECTED = {
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "string_too_short": "expected a non-empty string",
    "date_type": "expected a date YYYY-MM-DD",
    "date_parsing": "expected a date YYYY-MM-DD",
    "date_from_datetime_parsing": "expected a date YYYY-MM-DD",
    "date_from_datetime_inexact": "expected a date YYYY-MM-DD",
}
"""What each pydantic error type means to the person fixing the file."""


def document_error(reason: str) -> PydanticCustomError:
    """An error for a whole file that is not what the command reads (no value is shown)."""
    return PydanticCustomError(DOCUMENT, reason)


def read_json(path: str | Path, hint: str = "") -> Any:
    """The decoded JSON of ``path``; ``InputError`` for a missing, unreadable or non-JSON file.

    ``hint`` (default none) is added to "file not found": how to get the file.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "file not found" + (f"; {hint}" if hint else "")) from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a JSON file") from None
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text, expected JSON") from None
    except OSError as err:
        raise InputError(path, f"cannot read ({err.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(path, f"not JSON (line {err.lineno} column {err.colno}: {err.msg})"
                         ) from None


def validated(model: type[M], data: Any, source: str | Path,
              context: Callable[[Location], str] | None = None) -> M:
    """``data`` as ``model``; ``InputError`` naming the first problem's field path and value.

    ``context`` (default none) may name, for a location, what it belongs to (a resource
    address): added to the message in parentheses.
    """
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise as_input_error(err, source, context) from None


def as_input_error(err: ValidationError, source: str | Path,
                   context: Callable[[Location], str] | None = None) -> InputError:
    """The first error of ``err`` as one ``InputError`` line."""
    first = err.errors(include_url=False)[0]
    where = context(tuple(first["loc"])) if context else ""
    return InputError(source, problem(first) + (f" ({where})" if where else ""),
                      field=field_path(first["loc"]))


def field_path(loc: Sequence[int | str], names: re.Pattern[str] = _IDENTIFIER) -> str:
    """``("resource_changes", 3, "change")`` as ``resource_changes[3].change``; map keys that
    are not names (``names`` matches a name; default a Python identifier) as ``["key"]``."""
    text = ""
    for step in loc:
        if isinstance(step, int):
            text += f"[{step}]"
        elif names.match(step):
            text += f".{step}" if text else step
        else:
            text += "[" + json.dumps(step) + "]"
    return text


def problem(error: ErrorDetails) -> str:
    """What was expected and the value found, for one pydantic error."""
    kind = error["type"]
    if kind == "missing":
        return "missing, required"
    message = str(error["msg"])
    if kind == DOCUMENT:
        return message
    if kind == "literal_error":
        expected = f"expected {error.get('ctx', {}).get('expected', '')}"
    elif kind in _EXPECTED:
        expected = _EXPECTED[kind]
    elif message.startswith("Value error, "):
        expected = message.removeprefix("Value error, ")
    elif message.startswith("Input should be "):
        expected = "expected " + message.removeprefix("Input should be ")
    else:
        expected = message[:1].lower() + message[1:]
    return f"{expected}, found {shown(error['input'])}"

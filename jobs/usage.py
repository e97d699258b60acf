"""Mistakes in what the user asked for (config, paths, arguments) end the command with one line that
names the problem and the fix, and exit code 2, never a traceback."""

from __future__ import annotations

import difflib
import sys
import types
from collections.abc import Callable
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from pipeline.read.listing import ListingError

EXIT_USAGE = 2


class UsageError(ValueError):
    """A mistake in the config, a path or an argument."""


def describe(error: ValidationError, model: type[BaseModel] | None = None) -> str:
    """Each problem of a config as ``dotted.path: message``; an unknown key names the nearest valid one
    of ``model`` (the validated root) at that place."""
    lines = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "config"
        if e["type"] == "extra_forbidden":
            valid = _keys_at(model, e["loc"][:-1]) if model is not None else None
            hint = difflib.get_close_matches(str(e["loc"][-1]), valid or [], n=1, cutoff=0.6)
            lines.append(
                f"{where}: unknown key"
                + (f"; did you mean {hint[0]}?" if hint else "")
                + (f" (valid here: {', '.join(valid)})" if valid and not hint else "")
            )
        else:
            lines.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines)


def _keys_at(model: type[BaseModel], loc: tuple) -> list[str] | None:
    """The field names of the model found at ``loc`` below ``model`` (through lists, dicts and Optional)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if get_origin(tp) in (list, tuple, set, frozenset):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        else:
            return None
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    """``X | None`` → X (the model or container among a union's members)."""
    if get_origin(tp) in (Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        return next(
            (a for a in members if get_origin(a) or (isinstance(a, type) and issubclass(a, BaseModel))),
            members[0] if members else tp,
        )
    return tp


def exit_on_usage_error(command: Callable[[], int]) -> int:
    """Run ``command``; a usage mistake prints ``corpusmill: error: ...`` and returns EXIT_USAGE."""
    try:
        return command()
    except ValidationError as e:
        from jobs.config import RunConfig  # a config's errors name the keys valid where the mistake is

        message = f"invalid config: {describe(e, RunConfig if e.title == RunConfig.__name__ else None)}"
    except (UsageError, ListingError) as e:
        message = str(e)
    print(f"corpusmill: error: {message}", file=sys.stderr)
    return EXIT_USAGE

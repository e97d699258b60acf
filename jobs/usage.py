"""Mistakes in what the user asked for (config, paths, arguments) end the command with one line that
names the problem and the fix, and exit code 2, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from pydantic import ValidationError

from pipeline.input_listing import ListingError

EXIT_USAGE = 2


class UsageError(ValueError):
    """A mistake in the config, a path or an argument."""


def describe(error: ValidationError) -> str:
    """Each problem of a config as ``dotted.path: message``."""
    lines = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "config"
        lines.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines)


def exit_on_usage_error(command: Callable[[], int]) -> int:
    """Run ``command``; a usage mistake prints ``corpusmill: error: ...`` and returns EXIT_USAGE."""
    try:
        return command()
    except ValidationError as e:
        message = f"invalid config: {describe(e)}"
    except (UsageError, ListingError) as e:
        message = str(e)
    print(f"corpusmill: error: {message}", file=sys.stderr)
    return EXIT_USAGE

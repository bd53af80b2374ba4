"""What every CLI shares: the error handler and JSON output."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from lib.core.errors import BatonError

JSON_VERSION = 1


# json and datetime are imported when output is written: a CLI that prints text never pays for them.
def _default(obj: object) -> Any:
    from datetime import date  # datetime.datetime is a date too

    if isinstance(obj, date):
        return obj.isoformat()
    if hasattr(obj, "__fspath__"):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(payload: Any) -> str:
    import json

    return json.dumps(payload, indent=2, ensure_ascii=False, default=_default)


def print_json(payload: Any) -> None:
    sys.stdout.write(dumps(payload) + "\n")


def run(main: Callable[[], int], prog: str) -> int:
    """Run a CLI body: a BatonError is one line on stderr, Ctrl-C is 130, a bug is 3 with its traceback."""
    try:
        return main()
    except BatonError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception:
        import traceback  # only on this path: it costs every command's start-up otherwise

        print(f"{prog}: internal error (please report):", file=sys.stderr)
        traceback.print_exc()
        return 3

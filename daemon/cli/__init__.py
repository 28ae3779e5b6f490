"""The ``handmap`` command line: one console script, one module per subcommand.

Each subcommand module has ``add_parser(subparsers)``, registering its parser with
``set_defaults(func=run)``; ``run(args) -> int`` returns the exit status. Known errors
become one sentence on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from handmap.daemon.log import divert_native_stderr, quiet_mediapipe, setup_logging
from handmap.daemon.runtime.memory import limit_malloc_arenas
from handmap.daemon.runtime.priority import single_threaded_blas

#: Subcommand modules, in the order ``handmap --help`` lists them.
SUBCOMMANDS = ("run", "detect", "bench", "profiles", "teach", "poses", "config", "control", "stats", "service", "setup", "doctor", "ui")

EXIT_ERROR = 1
EXIT_USAGE = 2


class UserError(Exception):
    """An error the user can fix; its message is printed as is."""


def _version() -> str:
    """The installed distribution's version ("unknown" when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("handmap")
    except PackageNotFoundError:
        return "unknown"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 frame``, ``2 frames`` (``nouns`` for an irregular plural)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handmap",
        description="Turn a webcam into an input device: hand poses and motion to mouse and keys, with face-touch alerts.",
    )
    parser.add_argument("--version", action="version", version=f"handmap {_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output on stderr (-vv for debug)")
    parser.set_defaults(func=None)  # no subcommand: the help
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    return parser


def _known_errors() -> tuple[type[BaseException], ...]:
    from handmap.daemon.capture import SourceError
    from handmap.daemon.config import ConfigError
    from handmap.daemon.perception.models import ModelError

    errors: list[type[BaseException]] = [UserError, ConfigError, ModelError, SourceError]
    try:
        from handmap.daemon.outputs import OutputUnavailable

        errors.append(OutputUnavailable)
    except ImportError:
        pass
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    quiet_mediapipe()
    single_threaded_blas()
    limit_malloc_arenas()
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if args.verbose < 2:
        divert_native_stderr()
    if args.func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except _known_errors() as exc:  # one line per problem (a config file may have several)
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"handmap: error: {line}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

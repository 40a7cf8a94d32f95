"""The ``workbench`` command: a thin skin over :mod:`workbench.workspace`.

Every command accepts ``--json`` and then prints exactly one JSON object on stdout. Errors go to
stderr as one line ``error: <file>:<where>: <what>`` with a non-zero exit code; no traceback
reaches the user (set ``WORKBENCH_DEBUG=1`` to see one).

A command is one function registered with :func:`command` in any module of this package
(``workbench/cli/<capability>.py``); modules are discovered, nothing else to edit.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from workbench._registry import Registry
from workbench.errors import WorkbenchError

__all__ = ["main", "command", "Command", "Result"]


@dataclass(frozen=True, slots=True)
class Result:
    """What a command returns: the JSON object, its human rendering and the exit code."""

    data: dict[str, Any]
    text: str = ""
    code: int = 0
    errors: tuple[str, ...] = ()  # one-line messages for stderr


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # "ingest" or "data samples"
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], Result]


COMMANDS: Registry[Command] = Registry("command")


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None] | None = None):
    def deco(fn: Callable[[argparse.Namespace], Result]) -> Callable[[argparse.Namespace], Result]:
        COMMANDS.add(name, Command(name, help, configure or (lambda p: None), fn))
        return fn

    return deco


def _load_commands() -> None:
    """Import every module of this package: each registers its commands (a new command is one file)."""
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def _json_default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    return str(o)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors in the CLI's format."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {self.prog}:arguments: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    _load_commands()
    parser = _Parser(prog="workbench", description="Trading Research Workbench")
    parser.add_argument("--home", help="workspace folder (default: $WORKBENCH_HOME or ./data/lake)")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    groups: dict[str, argparse._SubParsersAction] = {}
    for name, cmd in sorted(COMMANDS.items()):
        head, _, tail = name.partition(" ")
        if tail:
            if head not in groups:
                gp = subs.add_parser(head, help=f"{head} commands")
                groups[head] = gp.add_subparsers(
                    dest="subcommand", metavar="SUBCOMMAND", required=True, parser_class=_Parser
                )
            sp = groups[head].add_parser(tail, help=cmd.help, description=cmd.help)
        else:
            sp = subs.add_parser(name, help=cmd.help, description=cmd.help)
        sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        sp.add_argument("--home", default=argparse.SUPPRESS, help="workspace folder")
        cmd.configure(sp)
        sp.set_defaults(_command=cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed a one-line usage error
        return int(e.code or 0)
    cmd: Command | None = getattr(args, "_command", None)
    if cmd is None:
        parser.print_help()
        return 2
    if args.home:
        os.environ["WORKBENCH_HOME"] = args.home
    try:
        result = cmd.run(args)
    except WorkbenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the last line of defence: never a traceback
        if os.environ.get("WORKBENCH_DEBUG"):
            traceback.print_exc()
        msg = " ".join(str(e).split())[:300]
        print(
            f"error: {cmd.name}:-: internal error ({type(e).__name__}: {msg}); rerun with WORKBENCH_DEBUG=1 "
            "and report it",
            file=sys.stderr,
        )
        return 3
    for line in result.errors:
        print(f"error: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.data, default=_json_default, allow_nan=False))
    elif result.text:
        print(result.text)
    return result.code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

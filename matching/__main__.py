"""Command line: ``python -m matching solve INSTANCE.json [--out RESULT.json] [--progress]``.

A thin wrapper around `matching.engine` (no Django: it runs without settings). Exit 0 with
the result JSON on stdout (or in --out); exit 2 with one line on stderr for an invalid
instance, including unreadable files and malformed JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from typing import NoReturn

from matching.engine import InvalidInstance, parse_instance, solve

EXIT_INVALID = 2
# The contract refuses instances larger than this before parsing them.
MAX_INSTANCE_BYTES = 256 * 1024 * 1024
_CHUNK = 1 << 22
EXIT_WRITE_FAILED = 1  # the instance was fine, the result could not be written


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints usage plus the message; the contract wants one line and exit 2.
        self.exit(EXIT_INVALID, f"{self.prog}: {message}\n")


def _read_capped(handle, name: str) -> bytes:
    """At most MAX_INSTANCE_BYTES from a binary handle (chunks: /dev/zero never ends)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = handle.read(min(_CHUNK, MAX_INSTANCE_BYTES + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_INSTANCE_BYTES:
            raise InvalidInstance(f"{name}: instance larger than 256 MiB ({MAX_INSTANCE_BYTES} bytes)")


def _read(path: str) -> dict:
    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            # Bytes, decoded like a file: invalid UTF-8 is refused, whatever the locale.
            data = _read_capped(sys.stdin.buffer, name)
        else:
            with open(path, "rb") as handle:
                data = _read_capped(handle, name)
        text = data.decode("utf-8")
    except OSError as error:
        raise InvalidInstance(f"{name}: cannot read: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise InvalidInstance(f"{name}: not UTF-8 text: {error.reason}") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInstance(
            f"{name}: malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error
    except RecursionError:
        raise InvalidInstance(f"{name}: malformed JSON: nested too deeply") from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise InvalidInstance(f"{name}: malformed JSON: {str(error).splitlines()[0]}") from None


def _progress(stage: str, fraction: float) -> None:
    print(f"progress: {stage} {fraction:.0%}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = _Parser(
        prog="python -m matching", description="Optimal assignment of help requests to volunteers."
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    solve_command = commands.add_parser("solve", help="solve one instance (JSON file, '-' for stdin)")
    solve_command.add_argument("instance", help="instance JSON file, or '-' for standard input")
    solve_command.add_argument("--out", help="write the result JSON here instead of standard output")
    solve_command.add_argument("--progress", action="store_true", help="report progress on standard error")
    arguments = parser.parse_args(argv)

    try:
        instance = parse_instance(_read(arguments.instance))
    except InvalidInstance as error:
        print(str(error).splitlines()[0] if str(error) else "invalid instance", file=sys.stderr)
        return EXIT_INVALID
    result = solve(instance, progress=_progress if arguments.progress else None)
    text = json.dumps(result.to_json(), separators=(",", ":"))
    if arguments.out:
        try:
            with open(arguments.out, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except OSError as error:
            print(f"{arguments.out}: cannot write: {error.strerror or error}", file=sys.stderr)
            return EXIT_WRITE_FAILED
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    # One instance, then exit: nothing here makes reference cycles worth collecting, and the
    # collector's passes over the millions of objects json.loads builds more than doubled its
    # time (100k x 100k: 0.34 s without them, 0.82 s with). Only the CLI process: main()
    # called from elsewhere (the tests) leaves the collector alone.
    gc.disable()
    sys.exit(main())

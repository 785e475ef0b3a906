"""The reader process: a file opened, its rows checked into outcomes, streamed out.

Run as ``python -m backoffice.portfolio.reader_child`` by
:class:`~backoffice.portfolio.reading.ProcessTableReader`. Both directions carry
frames: an 8-byte big-endian length, then a pickle of a tuple.

    parent -> child   ("open", path)
    child  -> parent  ("table", format, details, header_row, headers)
                      or ("end", reason, row) if the file is not a table
    parent -> child   ("read", columns, context, batch size)   (or closes: done)
    child  -> parent  ("rows", outcomes, progress) ... then ("end", reason, row),
                      where reason (and row) say why reading stopped early, or None

The parent reads frames as it writes batches, so the pipe, not this process, sets
the pace; when the parent goes away, the next write fails and the process ends.
Nothing else may reach stdout, so ``print`` is pointed at stderr.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any, BinaryIO

from backoffice.portfolio.reading import Batches, frame, table_outcomes
from backoffice.portfolio.rows import UnreadableFile
from backoffice.portfolio.table import open_table


def _send(out: BinaryIO, message: tuple[Any, ...]) -> None:
    out.write(frame(message))
    out.flush()


def _receive(inp: BinaryIO) -> tuple[Any, ...] | None:
    header = inp.read(8)
    if len(header) < 8:
        return None
    message: tuple[Any, ...] = pickle.loads(inp.read(int.from_bytes(header, "big")))  # noqa: S301
    return message


def main() -> int:
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    request = _receive(inp)
    if request is None or request[0] != "open":
        return 2
    try:
        table = open_table(Path(request[1]))
    except UnreadableFile as exc:
        _send(out, ("end", exc.reason, exc.row))
        return 0
    try:
        _send(out, ("table", table.format, table.source.details, table.header_row, table.headers))
        request = _receive(inp)
        if request is None or request[0] != "read":
            return 0
        _, columns, ctx, size = request
        batches = Batches(table_outcomes(table, columns, ctx), size)
        while batch := batches.next():
            _send(out, ("rows", batch, table.source.progress()))
        stop = batches.stopped
        _send(out, ("end", stop.reason if stop else None, stop.row if stop else None))
    except BrokenPipeError:  # the parent stopped listening: nothing left to do
        return 0
    finally:
        table.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Text that lines up in a terminal, where Hangul, CJK characters and most emoji take
two columns: widths come from wcwidth, not len()."""

from collections.abc import Sequence

from wcwidth import wcswidth


def width(text: object) -> int:
    """The columns ``text`` takes in a terminal (len() for text with control characters)."""
    text = str(text)
    columns = wcswidth(text)
    return columns if columns >= 0 else len(text)


def ljust(text: object, columns: int) -> str:
    """``text`` padded on the right to ``columns`` terminal columns."""
    return str(text) + " " * max(0, columns - width(text))


def rjust(text: object, columns: int) -> str:
    """``text`` padded on the left to ``columns`` terminal columns."""
    return " " * max(0, columns - width(text)) + str(text)


def aligned(header: Sequence[object], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns under a header and a rule of dashes."""
    widths = [max(width(cell) for cell in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(ljust(cell, w) for cell, w in zip(cells, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])

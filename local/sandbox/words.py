"""How the sandbox says a count: "1 account", "1,156 items"."""

from __future__ import annotations


def noun(count: int, singular: str) -> str:
    """`singular`, or its plural for any count but 1 ("batch" -> "batches")."""
    if count == 1:
        return singular
    return singular + ("es" if singular.endswith(("ch", "sh", "s", "x")) else "s")


def plural(count: int, singular: str) -> str:
    """A count and its noun, as a reader says it: "1 account", "1,156 items"."""
    return f"{count:,} {noun(count, singular)}"

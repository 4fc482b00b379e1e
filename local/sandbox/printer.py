"""Plain output for people: numbered steps and indented lines, flushed as they come."""

from __future__ import annotations

from typing import TextIO

from local.sandbox.summary import INDENT

STEPS = 5


class Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._step = 0

    def step(self, text: str) -> None:
        self._step += 1
        self.line(f"[{self._step}/{STEPS}] {text}")

    def line(self, text: str = "", indent: int = 0) -> None:
        self.out.write(INDENT * indent + text + "\n")
        self.out.flush()

    def lines(self, lines: list[str], indent: int = 1) -> None:
        for text in lines:
            self.line(text, indent)

"""The refusal every workflow raises: a stable code for machines and a Chinese message for the screen."""

from __future__ import annotations


class CodedError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

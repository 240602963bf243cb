"""Errors ecgscope raises for bad input.

Every error names *what* was wrong (a stable machine-readable ``code``), *where* (``source``: the
file, upload or field) and a human sentence.  The CLI prints ``error: <source>: <message>`` and
exits non-zero; the server maps these to 4xx responses.  Nothing else should escape to a user as a
traceback: readers wrap third-party parsing failures into one of these.
"""

from __future__ import annotations


class ECGScopeError(Exception):
    """Base class of every error caused by the user's input or configuration."""

    code: str = "error"
    http_status: int = 422

    def __init__(self, message: str, *, source: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message

    def with_source(self, source: str) -> ECGScopeError:
        """Attach the file/upload name if the raiser did not know it."""
        if self.source is None:
            self.source = source
        return self

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "source": self.source}


class RecordValidationError(ECGScopeError, ValueError):
    """A record's content breaks the record contract (DESIGN §1): NaN runs, bad fs, too short..."""

    code = "invalid_record"


class RecordFormatError(ECGScopeError, ValueError):
    """A file could not be parsed as the format it claims (truncated, inconsistent, empty...)."""

    code = "malformed_file"


class UnsupportedFormatError(ECGScopeError, ValueError):
    """The file is not one of the formats ecgscope reads, or the requested output format is unknown."""

    code = "unsupported_format"
    http_status = 415


class FileTooLargeError(ECGScopeError, ValueError):
    """Refused by size before reading."""

    code = "file_too_large"
    http_status = 413


class MissingInputError(ECGScopeError, FileNotFoundError):
    """A path, companion file or data directory that was needed does not exist."""

    code = "not_found"
    http_status = 404


class ContractError(ECGScopeError, ValueError):
    """A record cannot be turned into a model's input (missing leads, too short for one window...)."""

    code = "contract_violation"

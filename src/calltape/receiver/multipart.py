"""multipart/form-data uploads: the first file part streams into the spool, small fields become metadata."""

from __future__ import annotations

from typing import Any

from python_multipart.multipart import parse_options_header

from calltape.receiver.spool import SpoolFile


class FormCollector:
    """multipart/form-data: the first file part goes to the spool, small fields become metadata."""

    MAX_FIELD = 4096

    def __init__(self, spool: SpoolFile) -> None:
        self.spool = spool
        self.fields: dict[str, str] = {}
        self.got_file = False
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._name = ""
        self._to_spool = False
        self._data = bytearray()

    def callbacks(self) -> dict[str, Any]:
        """The callbacks python-multipart's streaming parser calls."""
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: self._header_field(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": lambda d, s, e: self._part_data(d[s:e]),
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._headers, self._data, self._to_spool = {}, bytearray(), False

    def _header_field(self, data: bytes) -> None:
        self._field += data

    def _header_value(self, data: bytes) -> None:
        self._value += data

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        self._to_spool = b"filename" in params and not self.got_file
        if self._to_spool:
            self.got_file = True

    def _part_data(self, data: bytes) -> None:
        if self._to_spool:
            self.spool.write(data)
        elif len(self._data) < self.MAX_FIELD:
            self._data += data

    def _end(self) -> None:
        if not self._to_spool and self._name:
            self.fields[self._name] = bytes(self._data[: self.MAX_FIELD]).decode("utf-8", "replace")

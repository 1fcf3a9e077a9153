"""Per-file cost of validating small files: what each file costs, counted rather than timed."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from docmigrate import JSONReadError, Registry, jsonio
from docmigrate.commands import validate_file
from docmigrate.files import FileTooLargeError, read_limited

HISTORY_VALID = Path(__file__).parent / "data" / "production_history" / "1.1" / "valid"


def test_reading_a_small_file_allocates_its_size_not_the_cap(tmp_path: Path) -> None:
    """read_limited allocates about the file's size, whatever the (gigabyte) cap."""
    path = tmp_path / "small.json"
    path.write_bytes(b'{"a": 1}' * 100)
    tracemalloc.start()
    try:
        data = read_limited(path, 1 << 30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data == path.read_bytes()
    assert peak < 64 * 1024


def test_a_file_growing_past_the_cap_while_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file longer than fstat said is read on, and refused past the cap."""
    path = tmp_path / "growing.json"
    path.write_bytes(b"x" * 5000)
    real_fstat = os.fstat

    def stale_fstat(fd: int) -> Any:  # as if the file grew after fstat looked
        status = real_fstat(fd)
        return os.stat_result((status.st_mode, *status[1:6], 10, *status[7:]))

    monkeypatch.setattr(os, "fstat", stale_fstat)
    assert read_limited(path, 5000) == b"x" * 5000  # at the cap: read whole
    with pytest.raises(FileTooLargeError):
        read_limited(path, 4999)


def test_validating_a_small_file_stats_it_twice_at_most(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validating a small valid file stats it twice at most, fstat once (was three stats)."""
    path = HISTORY_VALID / "with-losses.json"
    calls: list[str] = []
    real_stat, real_fstat = os.stat, os.fstat

    def counted_stat(target: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(f"stat {target}")
        return real_stat(target, *args, **kwargs)

    def counted_fstat(fd: int) -> Any:
        calls.append("fstat")
        return real_fstat(fd)

    monkeypatch.setattr(os, "stat", counted_stat)
    monkeypatch.setattr(os, "fstat", counted_fstat)
    report = validate_file(path, registry)
    assert report.ok and report.version == "1.1"
    assert 1 <= calls.count(f"stat {path}") <= 2 and calls.count("fstat") <= 1


@pytest.mark.parametrize(
    "data",
    [
        b'"\xed\xa0\x80"',  # a surrogate encoded as UTF-8 (CESU-8): not UTF-8
        b'{"a": "\xed\xb0\x80"}',
        b'["\xf4\x90\x80\x80"]',  # past U+10FFFF
    ],
)
def test_bytes_that_would_decode_to_a_surrogate_are_refused(data: bytes) -> None:
    """Surrogates cannot come out of UTF-8 bytes: the decoder refuses them, so the check skips."""
    with pytest.raises(JSONReadError, match="not valid UTF-8"):
        jsonio.loads(data)


def test_a_raw_surrogate_in_text_is_still_refused() -> None:
    """A str input (not decoded here) holding a raw surrogate is refused with its place."""
    with pytest.raises(JSONReadError) as error:
        jsonio.loads('{"a": "x\ud800"}')
    assert (error.value.line, error.value.column) == (1, 9)

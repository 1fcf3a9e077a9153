"""Strategies for every ``format`` jsonschema-rs asserts, drawing values both validators accept.

Each strategy draws well-formed values by construction (no filtering), kept to the common
subset of what jsonschema-rs and python-jsonschema (with its ``format`` extra) accept: dates
with an offset, ASCII host names, absolute ``https`` URIs, and so on. An unknown format
asserts nothing, so it has no strategy here and the string is drawn as if it had none.
"""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

JSONStrategy = st.SearchStrategy[Any]

_LABEL = st.from_regex(r"[a-z]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_HOSTNAME = st.lists(_LABEL, min_size=1, max_size=3).map(".".join)
_WORD = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)
_PATH = st.lists(_WORD, max_size=3).map(lambda parts: "/" + "/".join(parts))
_OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
)
_TOKEN = st.from_regex(r"[a-z0-9~/]{0,6}", fullmatch=True)


def _datetime(value: Any) -> str:
    text: str = value.isoformat()
    return text.replace("+00:00", "Z") if text.endswith("+00:00") else text


def _duration(parts: tuple[int, int, int, int, int, int, int]) -> str:
    years, months, days, hours, minutes, seconds, weeks = parts
    if weeks:
        return f"P{weeks}W"
    date = _contiguous(((years, "Y"), (months, "M"), (days, "D")))
    time = _contiguous(((hours, "H"), (minutes, "M"), (seconds, "S")))
    if not date and not time:
        return "P0D"
    return f"P{date}" + (f"T{time}" if time else "")


def _contiguous(parts: tuple[tuple[int, str], ...]) -> str:
    """RFC 3339's duration grammar allows Y, YM, YMD, M, MD, D (no gaps): keep zeros between."""
    used = [index for index, (number, _) in enumerate(parts) if number]
    if not used:
        return ""
    return "".join(f"{n}{u}" for n, u in parts[used[0] : used[-1] + 1])


def _pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


FORMATS: dict[str, JSONStrategy] = {
    "date-time": st.datetimes(timezones=_OFFSETS).map(_datetime),
    "date": st.dates().map(lambda d: d.isoformat()),
    "time": st.times(timezones=_OFFSETS).map(_datetime),
    "duration": st.tuples(*[st.integers(0, 30)] * 6, st.integers(0, 3)).map(_duration),
    "email": st.tuples(_WORD, _HOSTNAME).map(lambda p: f"{p[0]}@{p[1]}.example"),
    "idn-email": st.tuples(_WORD, _HOSTNAME).map(lambda p: f"{p[0]}@{p[1]}.example"),
    "hostname": _HOSTNAME,
    "idn-hostname": _HOSTNAME,
    "ipv4": st.ip_addresses(v=4).map(str),
    "ipv6": st.ip_addresses(v=6).map(str),
    "uri": st.tuples(_HOSTNAME, _PATH).map(lambda p: f"https://{p[0]}.example{p[1]}"),
    "iri": st.tuples(_HOSTNAME, _PATH).map(lambda p: f"https://{p[0]}.example{p[1]}"),
    "uri-reference": _PATH | st.tuples(_HOSTNAME, _PATH).map(lambda p: f"https://{p[0]}{p[1]}"),
    "iri-reference": _PATH | st.tuples(_HOSTNAME, _PATH).map(lambda p: f"https://{p[0]}{p[1]}"),
    "uri-template": st.tuples(_HOSTNAME, _WORD).map(lambda p: f"https://{p[0]}.example/{{{p[1]}}}"),
    "json-pointer": st.lists(_TOKEN, max_size=3).map(
        lambda tokens: "".join("/" + _pointer_token(t) for t in tokens)
    ),
    "relative-json-pointer": st.tuples(
        st.integers(0, 5), st.lists(_TOKEN, max_size=2), st.booleans()
    ).map(
        lambda p: f"{p[0]}#" if p[2] else f"{p[0]}" + "".join("/" + _pointer_token(t) for t in p[1])
    ),
    "regex": st.sampled_from(["^[a-z]+$", "a|b", "[0-9]{2,4}", "^x", "(ab)*c?"]),
    "uuid": st.uuids().map(str),
}
"""A strategy for each asserted format."""

"""A target survives its trip through the recording's row; one this version does not know is refused."""

from __future__ import annotations

import pytest

from calltape.delivery.targets import (
    DatabaseTarget,
    FtpTarget,
    HttpTarget,
    StoragePlanTarget,
    Target,
    target_from_dict,
)


@pytest.mark.parametrize(
    "target",
    [
        HttpTarget("https://r.example/{account_id}/", "post", query=False),
        HttpTarget("http://r.example/kzr"),
        FtpTarget("ftps://u:p@ftp.example/in"),
        DatabaseTarget(),
        StoragePlanTarget({"handler": "s3", "settings": {"bucket": "b", "key": "k", "secret": "s"}}),
    ],
)
def test_a_stored_target_reads_back_as_the_same_target(target: Target) -> None:
    stored = target.as_dict()
    assert stored["kind"] == type(target).kind
    assert target_from_dict(stored) == target


def test_the_stored_shape_is_what_older_rows_hold() -> None:
    assert HttpTarget("http://h/x", "put", query=True).as_dict() == {
        "kind": "http",
        "url": "http://h/x",
        "method": "put",
        "query": True,
    }
    assert target_from_dict({"kind": "http", "url": "http://h/x"}) == HttpTarget("http://h/x", "put", True)


@pytest.mark.parametrize("stored", [{"kind": "carrier-pigeon"}, {}, {"kind": "ftp"}])
def test_an_unknown_or_incomplete_target_is_refused(stored: dict[str, object]) -> None:
    with pytest.raises((ValueError, KeyError)):
        target_from_dict(stored)

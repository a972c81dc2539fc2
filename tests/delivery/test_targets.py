"""A target survives its trip through the recording's row; one this version does not know is refused."""

from __future__ import annotations

import pytest

from calltape.delivery.targets import (
    DatabaseTarget,
    FtpTarget,
    HttpTarget,
    StoragePlanTarget,
    Target,
    choose_target,
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


PLAN = {"handler": "filesystem", "settings": {"path": "/srv/recordings"}}


@pytest.mark.parametrize(
    ("url", "caller_only", "plan", "store", "expected"),
    [
        ("https://r.example/kzr", False, PLAN, True, HttpTarget("https://r.example/kzr", "post", query=True)),
        ("http://r.example/vm", True, None, False, HttpTarget("http://r.example/vm", "post", query=False)),
        ("FTPS://u:p@f.example/in", False, PLAN, True, FtpTarget("FTPS://u:p@f.example/in")),
        ("gopher://x.example/", False, PLAN, True, None),  # a url it cannot use: not recorded, not elsewhere
        (None, False, PLAN, True, StoragePlanTarget(PLAN)),  # no url: the account's plan before the database
        (None, False, None, True, DatabaseTarget()),
        (None, False, None, False, None),
    ],
)
def test_a_new_recording_goes_to_its_url_then_the_plan_then_the_database(
    url: str | None, caller_only: bool, plan: dict[str, object] | None, store: bool, expected: Target | None
) -> None:
    assert choose_target(url, "post", caller_only, plan, store) == expected

"""The automatic recording rules as Kazoo 4.3 reads ``call_recording`` (KAZOO-COMPAT.md, kz_endpoint.erl)."""

from __future__ import annotations

import logging

import pytest

from calltape.recording.automatic import account_rules, enabled_leaf, endpoint_rules, origin

URL = "http://rec.example.com/in"


def test_the_accounts_account_and_endpoint_parts_are_read_apart() -> None:
    account = {
        "id": "a1",
        "call_recording": {
            "account": {"inbound": {"offnet": {"enabled": True, "url": URL}}},
            "endpoint": {"outbound": {"onnet": {"enabled": True, "url": URL, "format": "wav"}}},
        },
    }
    rules, endpoint = account_rules(account)
    assert enabled_leaf(rules, "inbound", "offnet") is not None
    assert enabled_leaf(rules, "inbound", "onnet") is None
    assert enabled_leaf(rules, "outbound", "onnet") is None  # the endpoint default is not the account's own rule
    leaf = enabled_leaf(endpoint, "outbound", "onnet")
    assert leaf is not None and leaf.format == "wav" and leaf.url == URL


def test_any_stands_for_both_and_the_named_one_wins_field_by_field() -> None:
    account = {
        "call_recording": {
            "account": {
                "any": {"any": {"enabled": True, "url": URL, "format": "mp3"}},
                "outbound": {"offnet": {"format": "wav"}, "onnet": {"enabled": False}},
            }
        }
    }
    rules, _ = account_rules(account)
    inbound = enabled_leaf(rules, "inbound", "onnet")
    offnet = enabled_leaf(rules, "outbound", "offnet")
    assert inbound is not None and inbound.format == "mp3"
    assert offnet is not None and (offnet.format, offnet.url) == ("wav", URL)
    assert enabled_leaf(rules, "outbound", "onnet") is None


def test_endpoint_settings_merge_account_then_user_then_device_per_field() -> None:
    account = {"call_recording": {"endpoint": {"inbound": {"any": {"enabled": True, "url": URL, "time_limit": 600}}}}}
    user = {"call_recording": {"inbound": {"offnet": {"format": "wav"}}}}
    device = {"call_recording": {"inbound": {"offnet": {"record_sample_rate": 16000}}}}
    rules = endpoint_rules(account, user, device)
    leaf = enabled_leaf(rules, "inbound", "offnet")
    assert leaf is not None
    assert (leaf.url, leaf.time_limit, leaf.format, leaf.record_sample_rate) == (URL, 600, "wav", 16000)
    onnet = enabled_leaf(rules, "inbound", "onnet")
    assert onnet is not None and (onnet.format, onnet.record_sample_rate) == (None, 8000)  # only offnet was changed
    off = endpoint_rules(account, None, {"call_recording": {"inbound": {"any": {"enabled": False}}}})
    assert enabled_leaf(off, "inbound", "offnet") is None  # a device may turn its account's default off


@pytest.mark.parametrize("legacy", [True, {"record_call": True, "format": "wav", "action": "start"}])
def test_legacy_record_call_true_records_every_call_of_the_endpoint(legacy: object) -> None:
    rules = endpoint_rules(None, {"record_call": legacy}, None)
    for direction in ("inbound", "outbound"):
        for network in ("onnet", "offnet"):
            assert enabled_leaf(rules, direction, network) is not None  # type: ignore[arg-type]
    assert enabled_leaf(endpoint_rules(None, {"record_call": False}, None), "inbound", "onnet") is None


def test_the_old_calltape_shape_is_read_as_the_account_part_and_said_once(caplog: pytest.LogCaptureFixture) -> None:
    old = {"id": "old-shape", "call_recording": {"inbound": {"offnet": {"enabled": True, "url": URL}}}}
    with caplog.at_level(logging.WARNING):
        rules, _ = account_rules(old)
        account_rules(old)
    assert enabled_leaf(rules, "inbound", "offnet") is not None
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "old-shape" in caplog.records[0].message


def test_a_leaf_that_no_longer_checks_is_not_used() -> None:
    rules, _ = account_rules({"call_recording": {"account": {"inbound": {"any": {"enabled": True, "format": "ogg"}}}}})
    assert enabled_leaf(rules, "inbound", "offnet") is None


def test_origins_are_kazoos() -> None:
    assert origin("inbound", "offnet", "endpoint") == "inbound from offnet to endpoint"
    assert origin("outbound", "onnet", "account") == "outbound to onnet from account"

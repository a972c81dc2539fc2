"""Carrier routing (stepswitch) and number handling (knm_converters), expectations worked out by hand from Kazoo 4.3.

The NANP test number is 415-555-2671: NPA 415 and NXX 555 both start with 2-9, as Kazoo's NANP regex requires.
"""

from __future__ import annotations

from typing import Any

import pytest

from calltape.carriers.numbers import classify, is_emergency, npan, one_npan, to_e164
from calltape.carriers.routes import GatewayAttempt, certificate_fingerprint, routes_for

US = r"^\+1(\d{10})$"


def res(rid: str, *gateways: dict[str, Any], rules: tuple[str, ...] = (US,), **extra: Any) -> dict[str, Any]:
    """A resource document with a name derived from its id."""
    gws = list(gateways) or [{"server": f"{rid}.example.com"}]
    return {"_id": rid, "name": rid.upper(), "rules": list(rules), "gateways": gws, **extra}


def uris(number: str, *docs: dict[str, Any], **kwargs: Any) -> list[str]:
    return [attempt.uri for attempt in routes_for(number, list(docs), **kwargs)]


def ids(number: str, *docs: dict[str, Any], **kwargs: Any) -> list[str]:
    return [attempt.resource_id for attempt in routes_for(number, list(docs), **kwargs)]


# --- numbers: E.164 conversion -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialled", "expected"),
    [
        ("4155552671", "+14155552671"),  # NANP 10 digits: "+1" + group 2
        ("14155552671", "+14155552671"),  # the optional (\+?1) group is dropped, "+1" added back
        ("+14155552671", "+14155552671"),  # starts with "+": returned before any converter
        ("+4930123456", "+4930123456"),
        ("011442071234567", "+442071234567"),  # "+" + the 011 group
        ("00442071234567", "+442071234567"),  # "+" + the 00 group (the first group is then empty)
        ("442071234567", "+442071234567"),  # 8+ digits starting 2-9: "+" + the whole number
        ("22345678", "+22345678"),  # exactly 8 digits is enough for the third converter
        ("1001", "1001"),  # short extension: nothing matches
        ("2001", "2001"),  # 4 digits: too short for ^[2-9]\d{7,}$
        ("911", "911"),
        ("12345678", "12345678"),  # starts with 1 but is not NANP
        ("1415555267", "1415555267"),  # 10 digits starting with 1: neither NANP shape fits
        ("0114412", "0114412"),  # 011 needs 5+ digits after it
        ("415-555-2671", "415-555-2671"),  # Kazoo strips nothing
        ("", ""),
    ],
)
def test_to_e164_defaults(dialled: str, expected: str) -> None:
    assert to_e164(dialled) == expected


def test_to_e164_custom_converters_replace_the_defaults() -> None:
    berlin = {r"^(\d{4})$": r"+4930\1"}
    assert to_e164("1234", berlin) == "+49301234"
    assert to_e164("4155552671", berlin) == "4155552671"  # the defaults are not consulted
    # an invalid regex and a replacement naming a missing group are skipped, not raised
    assert to_e164("1234", {"[": "x", r"^(\d+)$": r"+\5", r"^\d+$": r"+\g<0>"}) == "+1234"


# --- numbers: classification and NANP formats ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialled", "expected"),
    [
        ("911", "emergency"),
        ("999", "emergency"),
        ("933", "emergency"),
        ("112", "unknown"),  # not in Kazoo's emergency list
        ("8005552671", "tollfree_us"),  # normalised to +18005552671; tollfree is tried before did_us
        ("+18885552671", "tollfree_us"),  # 88\d
        ("+19005552671", "toll_us"),
        ("+18765552671", "caribbean"),  # 876 (Jamaica) is tried before did_us
        ("4155552671", "did_us"),
        ("011442071234567", "international"),
        ("1001", "unknown"),  # ^(.*)$ catches the rest
    ],
)
def test_classify(dialled: str, expected: str) -> None:
    assert classify(dialled) == expected


def test_is_emergency() -> None:
    assert is_emergency("911")
    assert is_emergency("988")
    assert not is_emergency("112")
    assert not is_emergency("4155552671")
    assert not is_emergency("9110")  # the regex is anchored


def test_npan_and_one_npan() -> None:
    for number in ("+14155552671", "14155552671", "4155552671"):
        assert npan(number) == "4155552671"
        assert one_npan(number) == "14155552671"
    assert npan("+442071234567") == "+442071234567"  # non-NANP: unchanged
    assert one_npan("+442071234567") == "+442071234567"  # no "1" added either
    assert npan("1001") == "1001"


# --- routes: the attempt itself ------------------------------------------------------------------------------


def test_a_plain_route_attempt() -> None:
    doc = res("carrier", {"server": "carrier.example.com", "username": "u", "password": "p", "realm": "r"})
    assert routes_for("4155552671", [doc]) == [
        GatewayAttempt(
            resource_id="carrier",
            resource_name="CARRIER",
            uri="sip:4155552671@carrier.example.com",  # the capture group, port 5060 not shown
            host="carrier.example.com",
            port=5060,
            transport="udp",
            username="u",
            password="p",
            realm="r",
            caller_id_type="external",
            emergency=False,
            custom_sip_headers={},
            codecs=(),
        )
    ]


def test_srtp_comes_from_the_gateways_media_encryption_else_the_resources() -> None:
    must = {"encryption": {"methods": ["srtp"], "enforce_security": True}}
    may = {"encryption": {"methods": ["srtp"]}}
    plain = {"encryption": {"methods": []}}
    doc = res("carrier", {"server": "a.example.com"}, {"server": "b.example.com", "media": plain})
    doc["media"] = must
    first, second = routes_for("4155552671", [doc])
    assert (first.srtp, first.srtp_required) == (True, True)  # the resource's
    assert (second.srtp, second.srtp_required) == (False, False)  # the gateway's own says otherwise
    doc = res("carrier", {"server": "a.example.com", "media": may})
    assert [(a.srtp, a.srtp_required) for a in routes_for("4155552671", [doc])] == [(True, False)]
    assert [a.srtp for a in routes_for("4155552671", [res("carrier", {"server": "a.example.com"})])] == [False]


@pytest.mark.parametrize(
    ("invite_format", "rule", "dialled", "user"),
    [
        ("route", US, "4155552671", "4155552671"),
        ("e164", US, "4155552671", "+14155552671"),  # to_e164 of the captured 10 digits
        ("npan", US, "4155552671", "4155552671"),
        ("1npan", US, "4155552671", "14155552671"),
        ("route", r"^\+(\d+)$", "4155552671", "14155552671"),
        ("e164", r"^\+(\d+)$", "4155552671", "+14155552671"),
        ("npan", r"^\+(\d+)$", "4155552671", "4155552671"),
        ("1npan", r"^\+(\d+)$", "4155552671", "14155552671"),
        ("e164", r"^\+(\d+)$", "011442071234567", "+442071234567"),  # third converter on 442071234567
        ("npan", r"^\+(\d+)$", "011442071234567", "442071234567"),  # not NANP: unchanged
        ("1npan", r"^\+(\d+)$", "011442071234567", "442071234567"),
        ("E164", US, "4155552671", "+14155552671"),  # read case-insensitively
    ],
)
def test_invite_formats(invite_format: str, rule: str, dialled: str, user: str) -> None:
    doc = res("c", {"server": "h", "invite_format": invite_format}, rules=(rule,))
    assert uris(dialled, doc) == [f"sip:{user}@h"]


def test_username_invite_format_and_unknown_formats() -> None:
    doc = res(
        "c",
        {"server": "a", "invite_format": "username", "username": "trunk01"},
        {"server": "b", "invite_format": "username"},  # no username: the number
        {"server": "c", "invite_format": "contact"},  # not one of the five: skipped
    )
    assert uris("4155552671", doc) == ["sip:trunk01@a", "sip:4155552671@b"]


def test_prefix_and_suffix_wrap_the_formatted_number() -> None:
    doc = res(
        "c",
        {"server": "a", "prefix": "1010", "suffix": "x9"},
        {"server": "b", "prefix": "1010", "suffix": "x9", "invite_format": "e164"},
        {"server": "c", "prefix": 9},  # a number is taken as its digits
    )
    assert uris("4155552671", doc) == [
        "sip:10104155552671x9@a",
        "sip:1010+14155552671x9@b",
        "sip:94155552671@c",
    ]


def test_fixed_route() -> None:
    doc = res(
        "c",
        {"route": "sip:trunk@10.0.0.1:5080", "server": "ignored.example.com", "prefix": "9"},  # verbatim
        {"route": "sip:trunk@10.0.0.2", "invite_format": "e164", "prefix": "9"},  # user part replaced
        {"route": "10.0.0.3"},  # no scheme, no user: "sip:" added
    )
    attempts = routes_for("4155552671", [doc])
    assert [(a.uri, a.host, a.port) for a in attempts] == [
        ("sip:trunk@10.0.0.1:5080", "10.0.0.1", 5080),
        ("sip:9+14155552671@10.0.0.2", "10.0.0.2", 5060),
        ("sip:10.0.0.3", "10.0.0.3", 5060),
    ]


# --- routes: rules and capture groups ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "user"),
    [
        (r"^\+(1)(\d{10})$", "4155552671"),  # groups of 1 and 10 characters: the largest
        (r"^\+1(\d{3})(\d{3})(\d{4})$", "2671"),
        (r"^\+1(\d{5})(\d{5})$", "52671"),  # a tie (5 and 5): the later group
        (r"\d{10}$", "4155552671"),  # no group: the matched part only, not the whole number
        (r"^\+1415", "+1415"),  # ... even when that is only a prefix of the number
        (r"^(x)?\+1\d{10}$", "+14155552671"),  # the only group did not take part: the whole match
        (r"^(?<number>\d+)$|^\+1(\d{10})$", "4155552671"),  # PCRE named group syntax is accepted
    ],
)
def test_capture_groups(rule: str, user: str) -> None:
    assert uris("4155552671", res("c", {"server": "h"}, rules=(rule,))) == [f"sip:{user}@h"]


def test_the_last_rule_is_tried_first_and_bad_rules_are_dropped() -> None:
    # Kazoo compiles the rules into a reversed list: ^\+1(\d{10})$ is tried before ^\+(1\d{10})$
    both = res("c", {"server": "h"}, rules=(r"^\+(1\d{10})$", US))
    assert uris("4155552671", both) == ["sip:4155552671@h"]
    assert uris("4155552671", res("c", {"server": "h"}, rules=("[", US))) == ["sip:4155552671@h"]
    assert uris("4155552671", res("c", {"server": "h"}, rules=("(unclosed",))) == []
    assert uris("4155552671", res("c", {"server": "h"}, rules=())) == []  # no rules: matches nothing
    assert uris("1001", res("c", {"server": "h"})) == []  # 1001 stays 1001, which ^\+1 cannot match


def test_cid_rules() -> None:
    doc = res("c", {"server": "h"}, cid_rules=[r"^\+1415"])
    assert uris("4155552671", doc, caller_id_number="+14155550100") == ["sip:4155552671@h"]
    assert uris("4155552671", doc, caller_id_number="+12125550100") == []
    assert uris("4155552671", doc) == []


# --- routes: order, flags, enabled ---------------------------------------------------------------------------


def test_weight_order_with_clamping_and_ties() -> None:
    docs = [
        res("a", weight_cost=50),
        res("e", weight_cost=150),  # clamped to 100
        res("b", weight_cost=10),
        res("f", weight_cost=100),
        res("c"),  # absent: stepswitch default 3
        res("d", weight_cost=0),  # clamped to 1
        res("g", weight_cost="20"),  # a numeric string reads as 20
        res("h", weight_cost=-5),  # clamped to 1, ties with d: given order
    ]
    assert ids("4155552671", *docs) == ["d", "h", "c", "b", "g", "a", "e", "f"]


def test_gateways_keep_their_order_within_a_resource() -> None:
    doc = res("c", {"server": "one"}, {"server": "two"}, {"server": "three"}, weight_cost=5)
    other = res("o", weight_cost=4)
    assert [a.host for a in routes_for("4155552671", [doc, other])] == ["o.example.com", "one", "two", "three"]


def test_flags() -> None:
    docs = [
        res("r1", flags=["fax"]),
        res("r2"),
        res("r3", flags=["fax"], require_flags=True),
        res("r4", ignore_flags=True),
        res("r5", flags=["fax", "t38"]),
    ]
    assert ids("4155552671", *docs) == ["r1", "r2", "r4", "r5"]  # require_flags needs a flag
    assert ids("4155552671", *docs, flags=["fax"]) == ["r1", "r3", "r4", "r5"]
    assert ids("4155552671", *docs, flags=["fax", "t38"]) == ["r4", "r5"]
    # a non-empty list of empty flags: every resource, require_flags ones included
    assert ids("4155552671", *docs, flags=[""]) == ["r1", "r2", "r3", "r4", "r5"]


def test_disabled_and_invalid_documents_are_skipped() -> None:
    docs: list[Any] = [
        res("off", enabled=False),
        res("off-text", enabled="false"),
        res("on-text", enabled="yes"),  # get_boolean_value: unreadable means the default, enabled
        res("gw-off", {"server": "x", "enabled": False}, {"server": "y", "enabled": "no"}, {"server": "z"}),
        res("all-off", {"server": "x", "enabled": False}),
        {"_id": "no-gateways", "rules": [US]},
        {"_id": "empty-gateways", "rules": [US], "gateways": []},
        "not a document",
    ]
    attempts = routes_for("4155552671", docs)
    assert [(a.resource_id, a.host) for a in attempts] == [("on-text", "on-text.example.com"), ("gw-off", "z")]


# --- routes: emergency --------------------------------------------------------------------------------------


def test_emergency_numbers_go_to_every_matching_resource() -> None:
    carrier = res("carrier", weight_cost=10)
    e911 = res("e911", rules=(r"^(911)$",), emergency=True, weight_cost=20)
    catchall = res("catchall", rules=(r"^(.*)$",), weight_cost=30, caller_id_options={"type": "internal"})
    attempts = routes_for("911", [carrier, e911, catchall])
    assert [(a.resource_id, a.uri, a.emergency, a.caller_id_type) for a in attempts] == [
        ("e911", "sip:911@e911.example.com", True, "external"),
        ("catchall", "sip:911@catchall.example.com", False, "internal"),  # stepswitch does not restrict
    ]
    assert ids("4155552671", carrier, e911, catchall) == ["carrier", "catchall"]


def test_what_makes_an_attempt_emergency() -> None:
    by_cid_type = res("t", caller_id_options={"type": "emergency"})
    by_gateway = res("g", {"server": "a", "emergency": True}, {"server": "b", "caller_id_type": "internal"})
    attempts = routes_for("4155552671", [by_cid_type, by_gateway])
    assert [(a.host, a.emergency, a.caller_id_type) for a in attempts] == [
        ("t.example.com", True, "emergency"),
        ("a", True, "external"),
        ("b", False, "internal"),
    ]


def test_classifier_resources() -> None:
    e911 = res("x", {"server": "psap.example.com"}, rules=(), classifiers={"emergency": {}})
    catchall = res("y", rules=(r"^(.*)$",))
    attempts = routes_for("911", [e911, catchall])
    # only the emergency classifier's resource: its regex ^(911|...)$ is its rule, so "911" is dialled
    assert [(a.resource_id, a.resource_name, a.uri, a.emergency) for a in attempts] == [
        ("x-emergency", "X - emergency", "sip:911@psap.example.com", True)
    ]
    # a US number is did_us; nobody carries that class, so the unclassified resources are used
    assert ids("4155552671", e911, catchall) == ["y"]
    # did_us's regex ^(\+?1)?([2-9]..)$ yields the 10 digits (largest group); the classifier's prefix wraps them
    did = res("d", {"server": "h"}, rules=(), classifiers={"did_us": {"prefix": "1"}, "bogus": {}})
    assert uris("4155552671", did, catchall) == ["sip:14155552671@h"]
    # a disabled classifier still claims the class: nothing is dialled, the catch-all neither
    off = res("z", classifiers={"emergency": {"enabled": False}})
    assert uris("911", off, catchall) == []


# --- routes: servers, ports, transports, headers, codecs -----------------------------------------------------


@pytest.mark.parametrize(
    ("gateway", "host", "port", "hostport"),
    [
        ({"server": "carrier.example.com:5070"}, "carrier.example.com", 5070, "carrier.example.com:5070"),
        ({"server": "h", "port": 5080}, "h", 5080, "h:5080"),
        ({"server": "h", "port": "5080"}, "h", 5080, "h:5080"),
        ({"server": "h", "port": 5060}, "h", 5060, "h"),
        ({"server": "h", "port": "abc"}, "h", 5060, "h"),  # unreadable port: ignored, as Kazoo's safe cast does
        ({"server": "h:5070", "port": 5080}, "h", 5070, "h:5070"),  # the server's own port wins
        ({"server": "h:5060"}, "h", 5060, "h:5060"),  # written in the server: kept in the URI
        ({"server": "[2001:db8::1]:5070"}, "2001:db8::1", 5070, "[2001:db8::1]:5070"),
        ({"server": "[2001:db8::1]"}, "2001:db8::1", 5060, "[2001:db8::1]"),
        ({"server": "2001:db8::1"}, "2001:db8::1", 5060, "[2001:db8::1]"),
        ({"server": "2001:db8::1", "port": 5070}, "2001:db8::1", 5070, "[2001:db8::1]:5070"),
    ],
)
def test_server_and_port(gateway: dict[str, Any], host: str, port: int, hostport: str) -> None:
    (attempt,) = routes_for("4155552671", [res("c", gateway)])
    assert (attempt.host, attempt.port, attempt.uri) == (host, port, f"sip:4155552671@{hostport}")


def test_unusable_servers_are_skipped() -> None:
    bad = [{"server": s} for s in ("h:abc", "h:70000", "h:0", "[2001:db8::1", "[h]:5060", "", "a b", "u@h")]
    doc = res("c", *bad, {}, {"server": 42}, {"server": "good"})
    assert uris("4155552671", doc) == ["sip:4155552671@good"]


def test_transport() -> None:
    doc = res("c", {"server": "a"}, {"server": "b", "transport": "TCP"}, {"server": "c", "transport": "sctp"})
    assert [a.transport for a in routes_for("4155552671", [doc])] == ["udp", "tcp", "udp"]


def test_custom_sip_headers_outbound() -> None:
    headers = {"X-A": "1", "X-B": "legacy", "X-N": 7, "out": {"X-B": "out"}, "in": {"X-C": "in"}, "X-O": {}}
    (attempt,) = routes_for("4155552671", [res("c", {"server": "h", "custom_sip_headers": headers})])
    # flat keys are outbound too, "out" wins over them, "in" is for the other direction, objects are dropped
    assert attempt.custom_sip_headers == {"X-A": "1", "X-B": "out", "X-N": "7"}


def test_codecs() -> None:
    media = {"audio": {"codecs": ["PCMU", "PCMA"]}, "video": {"codecs": ["H264"]}}
    doc = res("c", {"server": "a"}, {"server": "b", "codecs": ["G729"]}, media=media)
    assert [a.codecs for a in routes_for("4155552671", [doc])] == [("PCMU", "PCMA", "H264"), ("G729",)]


def test_a_gateways_certificate_fingerprint_is_read_as_openssl_prints_it() -> None:
    digest = bytes(range(32))
    shown = ":".join(f"{b:02X}" for b in digest)
    for given in (shown, f"sha256 Fingerprint={shown}", f"sha256:{digest.hex()}", digest.hex().upper()):
        assert certificate_fingerprint(given) == digest, given
    assert certificate_fingerprint(None) is None  # no pin
    for wrong in ("AB:CD", digest.hex()[:-2], "zz" * 32, "", 42):
        assert certificate_fingerprint(wrong) == b""  # a pin that does not parse: the gateway is not called
    doc = res("carrier", {"server": "a.example.com", "transport": "tls", "certificate_fingerprint": shown})
    assert [a.certificate_sha256 for a in routes_for("4155552671", [doc])] == [digest]

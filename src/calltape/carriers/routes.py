"""Which carrier gateways an off-net call tries, in which order, with which Request-URI: Kazoo 4.3's stepswitch.

Pure: resource documents (the ``resources.json`` shape) in, :class:`GatewayAttempt` values out. Facts from
``stepswitch_resources.erl`` and ecallmgr's ``Invite-Format`` handling; where Kazoo is broken or silent, "Here".

- A resource is skipped when ``enabled`` is false; a gateway when its ``enabled`` is anything but true/"true".
- ``rules`` are searched (not full-matched) against the E.164 number. Kazoo compiles them into a list in reverse,
  so the *last* rule in the document is tried first; the first that matches decides the number sent: the whole
  match if no group took part, else the longest group (on a tie, the later group). An invalid regex drops only
  that rule; a resource left with no rules matches nothing. ``cid_rules`` must match the caller ID number when
  present (an invalid one is dropped too, so a resource whose only cid_rule is invalid accepts any caller).
- Flags: with none requested, resources with ``require_flags`` drop out; with some, a resource must carry every
  one of them unless it has ``ignore_flags``.
- ``classifiers`` on a resource replace it by one resource per known classifier (id ``<id>-<name>``, the
  classifier's regex as its only rule, its prefix/suffix on every gateway). If any eligible resource carries the
  number's class, only those (minus disabled classifiers) are used; otherwise only unclassified resources.
- Emergency numbers get no special treatment in stepswitch: they go to every resource whose rules match (and to
  the ``emergency`` classifier's resources if any exist). A resource is emergency if ``emergency`` is true or
  ``caller_id_options.type`` is "emergency"; its gateways then are too. Kazoo bridges *all* attempts with the
  emergency caller ID as soon as one of them is emergency: check ``any(a.emergency for a in attempts)``.
- Order: ``weight_cost`` clamped to 1..100 (absent: stepswitch's ``default_weight`` 3, not the schema's 50, which
  only crossbar fills in), lightest first, stable. Here ties keep the order given (Kazoo's tie order flips with
  whether flags were requested, as its filters rebuild the list reversed); gateways keep their order.
- Request-URI: ``sip:<prefix><number><suffix>@<server>`` as ``gateway_dialstring`` builds it, or the gateway's
  ``route`` verbatim (number, prefix and suffix ignored). ``invite_format`` other than "route" (the default):
  Kazoo 4.3 forwards it to ecallmgr, which then looks for a registration and drops the gateway. Here the user
  part is formatted as ecallmgr would for a device: e164 ``to_e164``, npan / 1npan on the matched number
  (non-NANP unchanged), username the gateway's ``username`` (the number if none); prefix/suffix wrap it, and a
  ``route`` keeps its host with the user part replaced.
- ``server`` may be "host", "host:port", "[v6]" or "[v6]:port" (a bare IPv6 address has no port). Kazoo appends
  ``:<port>`` to ``server`` unless ``port`` is absent or 5060. Here a port in ``server`` wins over ``port``, which
  wins over 5060; the URI shows it when ``server`` wrote it or it is not 5060. No usable server/route: skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import regex

from calltape.carriers.numbers import DEFAULT_CLASSIFIERS, classify, in_format, to_e164
from calltape.digits import is_number
from calltape.patterns import compile_pattern, search

DEFAULT_WEIGHT = 3
DEFAULT_PORT = 5060
INVITE_FORMATS = frozenset({"route", "username", "e164", "npan", "1npan"})
CALLER_ID_TYPES = frozenset({"external", "internal", "emergency"})
TRANSPORTS = frozenset({"udp", "tcp", "tls"})
_BAD_HOST_CHARS = frozenset(' \t\r\n@;?<>/\\"')


@dataclass(frozen=True)
class GatewayAttempt:
    """One gateway to try, with the INVITE's Request-URI and the credentials to answer a challenge."""

    resource_id: str
    resource_name: str
    uri: str  # the Request-URI, e.g. "sip:+15551234567@carrier.example.com:5070"
    host: str  # where the INVITE goes (the gateway's server, without port; IPv6 without brackets)
    port: int  # 5060 unless the server says "host:port" or the gateway has "port"
    transport: str  # "udp", "tcp" or "tls" (a gateway "transport" key, default "udp")
    username: str | None
    password: str | None
    realm: str | None
    caller_id_type: str  # gateway caller_id_type, else resource caller_id_options.type, else "external"
    emergency: bool
    custom_sip_headers: dict[str, str]
    codecs: tuple[str, ...]
    srtp: bool = False  # offer SRTP: media.encryption.methods has "srtp" (the gateway's, else the resource's)
    srtp_required: bool = False  # and refuse an answer in the clear (its enforce_security)
    certificate_sha256: bytes | None = None  # over TLS: the gateway's certificate must be this one (b"": a bad pin)


@dataclass(frozen=True)
class _Resource:
    id: str
    name: str
    weight: int
    flags: frozenset[str]
    require_flags: bool
    ignore_flags: bool
    rules: tuple[regex.Pattern[str], ...]  # in Kazoo's evaluation order: the document's, reversed
    cid_rules: tuple[regex.Pattern[str], ...]
    emergency: bool
    caller_id_type: str | None
    codecs: tuple[str, ...]
    gateways: tuple[Mapping[str, Any], ...]
    classifier: str | None
    classifier_enabled: bool
    encryption: tuple[bool, bool] = (False, False)  # the resource's media.encryption: (srtp, enforced)


def routes_for(
    number: str,
    resources: Sequence[Mapping[str, Any]],
    *,
    flags: Sequence[str] = (),
    converters: Mapping[str, str] | None = None,
    caller_id_number: str | None = None,
) -> list[GatewayAttempt]:
    """Every gateway to try for a call to *number* (as dialled), in order; see the module docstring for the rules.

    *number* is normalised to E.164 with *converters* first. Resources with ``cid_rules`` are used only when
    *caller_id_number* (None reads as "") matches one. Invalid documents or parts are skipped; never raises on data.
    """
    e164 = to_e164(number, converters)
    parsed = [resource for doc in resources for resource in _resources_from_doc(doc)]
    eligible = _filter_flags(parsed, flags)
    classification = classify(e164, converters)
    classified = [r for r in eligible if r.classifier is not None and r.classifier == classification]
    unclassified = [r for r in eligible if r.classifier is None]
    candidates = [r for r in classified if r.classifier_enabled] if classified else unclassified
    attempts: list[GatewayAttempt] = []
    for resource in sorted(candidates, key=lambda r: r.weight):
        matched = _evaluate_rules(resource.rules, e164)
        if not matched:  # no rule matched; here an empty capture too (Kazoo would dial "sip:@server")
            continue
        if resource.cid_rules and _evaluate_rules(resource.cid_rules, caller_id_number or "") is None:
            continue
        for gateway in resource.gateways:
            attempt = _attempt(resource, gateway, matched, converters)
            if attempt is not None:
                attempts.append(attempt)
    return attempts


def _filter_flags(resources: list[_Resource], flags: Sequence[str]) -> list[_Resource]:
    """stepswitch ``filter_resources``: an empty flag list differs from a list of empty flags."""
    if not flags:
        return [r for r in resources if not r.require_flags]
    wanted = [flag for flag in flags if flag]
    return [r for r in resources if r.ignore_flags or all(flag in r.flags for flag in wanted)]


def _evaluate_rules(rules: tuple[regex.Pattern[str], ...], number: str) -> str | None:
    """stepswitch ``evaluate_rules``: the part of *number* the first matching rule picks, None if none matches."""
    for pattern in rules:
        match = search(pattern, number)
        if match is None:
            continue
        # Erlang's re:run lists groups up to the highest one that took part; the whole match if there is none.
        highest = max((i for i in range(1, pattern.groups + 1) if match.start(i) != -1), default=0)
        if highest == 0:
            return match.group(0)
        # keysort on length, reversed, head: the longest group, and on a tie the later one.
        best = max(range(1, highest + 1), key=lambda i: (len(match.group(i) or ""), i))
        return match.group(best) or ""
    return None


def _resources_from_doc(doc: object) -> list[_Resource]:
    """One resource per document, or one per known classifier (``create_resource``); [] if disabled or invalid."""
    if not isinstance(doc, Mapping) or not _get_bool(doc.get("enabled"), True):
        return []
    classifiers = doc.get("classifiers")
    if not isinstance(classifiers, Mapping):
        resource = _resource(doc)
        return [resource] if resource is not None else []
    found: list[_Resource] = []
    for name, settings in classifiers.items():
        if name in DEFAULT_CLASSIFIERS and isinstance(settings, Mapping):
            resource = _resource(_classifier_doc(doc, name, settings))
            if resource is not None:
                found.append(resource)
    return found


def _classifier_doc(doc: Mapping[str, Any], name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """stepswitch ``create_classifier_resource``: the resource as seen through one of its classifiers."""
    known = DEFAULT_CLASSIFIERS[name]
    regex = settings.get("regex")
    derived = dict(doc)
    derived.update(
        {
            "_id": f"{_resource_id(doc)}-{name}",
            "name": f"{_text(doc.get('name')) or ''} - {name}",
            "rules": [regex if isinstance(regex, str) else known.regex],
            "classifier": name,
            "classifier_enable": _is_true(settings.get("enabled"), True),
        }
    )
    if settings.get("weight_cost") is not None:
        derived["weight_cost"] = settings["weight_cost"]
    if name == "emergency":
        derived["emergency"] = _is_true(settings.get("emergency"), True)
    elif settings.get("emergency") is not None:
        derived["emergency"] = _is_true(settings.get("emergency"), False)
    elif known.emergency:
        derived["emergency"] = True
    wrap = {key: settings[key] for key in ("prefix", "suffix") if settings.get(key) is not None}
    gateways = doc.get("gateways")
    if isinstance(gateways, list):
        derived["gateways"] = [{**gw, **wrap} if isinstance(gw, Mapping) else gw for gw in gateways]
    return derived


def _resource(doc: Mapping[str, Any]) -> _Resource | None:
    """stepswitch ``resource_from_jobj`` + ``gateways_from_jobjs``; None if no gateway is enabled."""
    gateways = tuple(
        gw for gw in _list(doc.get("gateways")) if isinstance(gw, Mapping) and _is_true(gw.get("enabled"), True)
    )
    if not gateways:
        return None
    options = doc.get("caller_id_options")
    cid_type = _text(options.get("type")) if isinstance(options, Mapping) else None
    media = doc.get("media")
    codecs: list[Any] = []
    if isinstance(media, Mapping):
        for kind in ("audio", "video"):
            section = media.get(kind)
            codecs += _list(section.get("codecs")) if isinstance(section, Mapping) else []
    classifier = _text(doc.get("classifier"))
    return _Resource(
        id=_resource_id(doc),
        name=_text(doc.get("name")) or "",
        weight=min(100, max(1, _integer(doc.get("weight_cost"), DEFAULT_WEIGHT))),
        flags=frozenset(flag for flag in _list(doc.get("flags")) if isinstance(flag, str)),
        require_flags=_get_bool(doc.get("require_flags"), False),
        ignore_flags=_get_bool(doc.get("ignore_flags"), False),
        rules=_compile_rules(doc.get("rules")),
        cid_rules=_compile_rules(doc.get("cid_rules")),
        emergency=_get_bool(doc.get("emergency"), False) or cid_type == "emergency",
        caller_id_type=cid_type if cid_type in CALLER_ID_TYPES else None,
        codecs=tuple(codec for codec in codecs if isinstance(codec, str)),
        gateways=gateways,
        classifier=classifier,
        classifier_enabled=_is_true(doc.get("classifier_enable"), True),
        encryption=_encryption(media) or (False, False),
    )


def _compile_rules(value: object) -> tuple[regex.Pattern[str], ...]:
    compiled = (compile_pattern(rule) for rule in reversed(_list(value)) if isinstance(rule, str))
    return tuple(pattern for pattern in compiled if pattern is not None)


def _attempt(
    resource: _Resource, gw: Mapping[str, Any], matched: str, converters: Mapping[str, str] | None
) -> GatewayAttempt | None:
    """stepswitch ``gateway_to_endpoint``: one gateway of a matching resource; None if it cannot be dialled."""
    invite_format = (_text(gw.get("invite_format")) or "route").lower()
    if invite_format not in INVITE_FORMATS:
        return None
    username = _text(gw.get("username"))
    formatted = in_format(matched, invite_format, username, converters)
    user = f"{_affix(gw.get('prefix'))}{formatted}{_affix(gw.get('suffix'))}"
    route = _text(gw.get("route"))
    if route is not None:
        target = _route_target(route, None if invite_format == "route" else user)
    else:
        target = _server_target(gw.get("server"), gw.get("port"), user)
    if target is None:
        return None
    uri, host, port = target
    transport = (_text(gw.get("transport")) or "udp").lower()
    gw_cid_type = _text(gw.get("caller_id_type")) or ""
    gw_codecs = gw.get("codecs")
    srtp, srtp_required = _encryption(gw.get("media")) or resource.encryption
    return GatewayAttempt(
        resource_id=resource.id,
        resource_name=resource.name,
        uri=uri,
        host=host,
        port=port,
        transport=transport if transport in TRANSPORTS else "udp",
        username=username,
        password=_text(gw.get("password")),
        realm=_text(gw.get("realm")),
        caller_id_type=gw_cid_type if gw_cid_type in CALLER_ID_TYPES else resource.caller_id_type or "external",
        emergency=resource.emergency or _is_true(gw.get("emergency"), False),
        custom_sip_headers=_outbound_headers(gw.get("custom_sip_headers")),
        codecs=(tuple(c for c in gw_codecs if isinstance(c, str)) if isinstance(gw_codecs, list) else resource.codecs),
        srtp=srtp,
        srtp_required=srtp_required,
        certificate_sha256=certificate_fingerprint(gw.get("certificate_fingerprint")),
    )


def certificate_fingerprint(value: object) -> bytes | None:
    """A gateway's ``certificate_fingerprint``: the SHA-256 of its TLS certificate (hex, colons allowed, an optional
    ``sha256:`` in front, as ``openssl x509 -fingerprint -sha256`` prints it); None if absent, ``b""`` if it is not
    one (the gateway is then not called: a pin that does not parse must not turn into no pin)."""
    if value is None:
        return None
    text = _text(value) or ""
    digits = text.lower().removeprefix("sha256:").removeprefix("sha256 fingerprint=").replace(":", "").strip()
    return bytes.fromhex(digits) if re.fullmatch(r"[0-9a-f]{64}", digits) else b""


def _encryption(media: object) -> tuple[bool, bool] | None:
    """Kazoo's ``media.encryption`` (``methods``, ``enforce_security``) as (SRTP offered, SRTP required); None if
    *media* says nothing of it."""
    encryption = media.get("encryption") if isinstance(media, Mapping) else None
    if not isinstance(encryption, Mapping):
        return None
    srtp = "srtp" in _list(encryption.get("methods"))
    return srtp, srtp and _get_bool(encryption.get("enforce_security"), False)


def _server_target(server: object, port_key: object, user: str) -> tuple[str, str, int] | None:
    """``sip:<user>@<server>``: a port in *server* first, then the ``port`` key, then 5060."""
    text = _text(server)
    parsed = _split_hostport(text) if text is not None else None
    if parsed is None:
        return None
    host, explicit = parsed
    port = explicit or _port(port_key) or DEFAULT_PORT
    shown = f":{port}" if explicit is not None or port != DEFAULT_PORT else ""
    return f"sip:{user}@{f'[{host}]' if ':' in host else host}{shown}", host, port


def _route_target(route: str, user: str | None) -> tuple[str, str, int] | None:
    """A gateway's fixed ``route``: verbatim (``sip:`` added if it has no scheme), or with its user part replaced."""
    lowered = route.lower()
    scheme_length = 5 if lowered.startswith("sips:") else 4 if lowered.startswith("sip:") else 0
    scheme, rest = (route[:scheme_length] or "sip:"), route[scheme_length:]
    userinfo, at, hostpart = rest.partition("@")
    if not at:
        userinfo, hostpart = "", rest
    parsed = _split_hostport(re.split(r"[;?>]", hostpart, maxsplit=1)[0])
    if parsed is None:
        return None
    host, port = parsed
    if user is not None:
        userinfo = user
    uri = f"{scheme}{userinfo}@{hostpart}" if userinfo else f"{scheme}{hostpart}"
    return uri, host, port or DEFAULT_PORT


def _split_hostport(text: str) -> tuple[str, int | None] | None:
    """Parse "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address → (host, port or None); None if invalid."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        host, rest = text[1:end], text[end + 1 :]
        if end < 0 or ":" not in host or (rest and not rest.startswith(":")):
            return None
        port_text: str | None = rest[1:] if rest else None
    elif text.count(":") > 1:
        host, port_text = text, None  # a bare IPv6 address: every colon belongs to it
    else:
        host, colon, after = text.partition(":")
        port_text = after if colon else None
    if not host or any(char in _BAD_HOST_CHARS for char in host):
        return None
    if port_text is None:
        return host, None
    port = _port(port_text)
    return (host, port) if port is not None else None


def _port(value: object) -> int | None:
    """A TCP/UDP port from an int or a string of digits; None otherwise (Kazoo ignores an unreadable ``port``)."""
    if isinstance(value, str) and is_number(value.strip(), 5):
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    return None


def _outbound_headers(value: object) -> dict[str, str]:
    """``kz_custom_sip_headers:outbound``: the flat (legacy) headers, overridden by those under ``out``."""
    if not isinstance(value, Mapping):
        return {}
    merged = {key: item for key, item in value.items() if key not in ("in", "out")}
    out = value.get("out")
    if isinstance(out, Mapping):
        merged.update(out)
    return {
        str(key): str(item).lower() if isinstance(item, bool) else str(item)
        for key, item in merged.items()
        if isinstance(item, str | int | float)
    }


def _resource_id(doc: Mapping[str, Any]) -> str:
    return _text(doc.get("_id")) or _text(doc.get("id")) or ""


def _affix(value: object) -> str:
    """A prefix or suffix: Kazoo's ``get_binary_value`` also turns a number into its digits."""
    return value if isinstance(value, str) else str(value) if type(value) is int else ""


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _get_bool(value: object, default: bool) -> bool:
    """``kz_json:get_boolean_value``: true/"true", false/"false", anything else the default."""
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(value, default) if isinstance(value, str) else default


def _is_true(value: object, default: bool) -> bool:
    """``kz_json:is_true``: absent is the default; present, only true/"true" is true."""
    if value is None:
        return default
    return value is True or value == "true"


def _integer(value: object, default: int) -> int:
    """``kz_json:get_integer_value``: ints, floats and numeric strings (rounded half away from zero)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(math.copysign(math.floor(abs(value) + 0.5), value))
    return default

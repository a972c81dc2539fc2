"""``calltape edge-config``: the Kamailio configuration that puts several calltape nodes behind one SIP address.

Kamailio (Debian's ``kamailio`` 5.6: dispatcher, rr, path, tm and sl are in the base package) is the edge; calltape
is not a load balancer of its own. What the rendered configuration does:

- **New calls** (INVITE, and any other request outside a dialog) go to one node of dispatcher set 1, chosen by a
  hash of the Call-ID, so every retransmission and the CANCEL reach the same node. An INVITE that no node answers
  within 2 s, or that a node refuses with a 503 carrying Retry-After (calltape's overloaded or draining answer; a
  503 about this one call has none), goes to the next node; only the silent one is marked inactive.
- **Record-Route** keeps the edge in every dialog, so in-dialog requests from phones reach the node that owns the
  call, and requests from a node reach phones behind NAT through the address their REGISTER came from.
- **REGISTER** is forwarded with ``Path`` (RFC 3327, with the phone's source address): any node can then call the
  phone through the edge, whichever node took its REGISTER (the nodes share one PostgreSQL).
- **Requests from the nodes** (calls to registered phones) follow their Route (the Path) through the edge.
- **Phones behind NAT** (nathelper): a phone's request or answer whose Contact is a private address gets the
  address it really came from added to that Contact (``;alias=``), and an in-dialog request that the edge sends
  to such a Contact (a node's BYE or re-INVITE) goes to that address — not to the private one.
- **The real source**: every request from outside gets ``X-Calltape-Source: <the sender's address>`` (one a
  client sent is removed), which nodes started with ``--edges`` (the edge's addresses) use for trusted networks,
  devices known by address and the failed-login throttle, in place of the edge's own address.
- **OPTIONS probing** of every node every few seconds: a node that stops answering 2xx (or answers 503 while
  draining) gets no new calls until it answers again.

The node list is dispatcher's own file (``--list``, written by this command); the configuration goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calltape.config import ConfigError, parse_host_port

HELP = "print a Kamailio configuration that spreads calls over calltape nodes"
DEFAULT_LIST = "/etc/kamailio/calltape-nodes.list"

_TEMPLATE = """#!KAMAILIO
# calltape's edge: rendered by `calltape edge-config` (see docs/operations.md). Nodes: {list_file}

debug=2
log_stderror=no
log_facility=LOG_LOCAL0
children=4
tcp_children=2
auto_aliases=no
listen=udp:{host}:{port}
listen=tcp:{host}:{port}
alias="{host}:{port}"
server_header="Server: calltape-edge"
user_agent_header="User-Agent: calltape-edge"

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "path.so"
loadmodule "nathelper.so"
loadmodule "dispatcher.so"

modparam("tm", "fr_inv_timer", 120000)
modparam("rr", "enable_full_lr", 1)
modparam("rr", "append_fromtag", 1)
modparam("path", "use_received", 1)         # requests along a Path go where the REGISTER came from
modparam("dispatcher", "list_file", "{list_file}")
modparam("dispatcher", "flags", 2)          # failover: the other nodes are kept for ds_next_dst()
modparam("dispatcher", "ds_ping_method", "OPTIONS")
modparam("dispatcher", "ds_ping_from", "sip:edge@{host}")
modparam("dispatcher", "ds_ping_interval", {probe_interval})
modparam("dispatcher", "ds_probing_mode", 1)      # every node is probed, up or down
modparam("dispatcher", "ds_probing_threshold", 2) # two failed probes in a row mark a node inactive
modparam("dispatcher", "ds_inactive_threshold", 1)
modparam("dispatcher", "ds_ping_reply_codes", "class=2")  # a draining node's 503 is "down"

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (!sanity_check("17895", "7")) {{
        exit;
    }}
    remove_hf("X-Calltape-Source");   # only the edge says where a request came from (nodes trust it from here),
    if (!ds_is_from_list("1")) {{      # in or out of a dialog
        append_hf("X-Calltape-Source: $si\\r\\n");
        force_rport();
        subst_hf("Contact", "/;alias=[^;>]*//", "a");  # only the edge says where a phone is
        if (!is_method("REGISTER") && nat_uac_test("19") && is_first_hop()) {{
            set_contact_alias();       # a phone behind NAT: its Contact carries where it really is
        }}
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            route(RELAY);
        }}
        exit;
    }}
    if (!is_method("ACK")) {{
        t_check_trans();
    }}
    if (has_totag()) {{
        route(WITHIN_DIALOG);
        exit;
    }}
    if (ds_is_from_list("1")) {{
        route(FROM_NODE);
        exit;
    }}
    remove_hf("Route");
    if (is_method("REGISTER")) {{
        add_path_received();
    }} else if (is_method("INVITE|SUBSCRIBE|REFER")) {{
        record_route();
    }}
    route(TO_NODE);
}}

route[TO_NODE] {{
    if (!ds_select_dst("1", "0")) {{    # algorithm 0: a hash of the Call-ID
        sl_send_reply("503", "No calltape node available");
        exit;
    }}
    if (is_method("INVITE")) {{
        t_set_fr(120000, 2000);         # no answer at all from the node in 2 s: the next node
        t_on_failure("NEXT_NODE");
    }}
    route(RELAY);
}}

route[FROM_NODE] {{
    # a node calling a phone through the Path the phone registered with: the Path (our own address) goes, and
    # the request is sent where that REGISTER came from (the Path's received parameter), else to its R-URI
    $var(received) = $(hdr(Route){{nameaddr.uri}}{{uri.param,received}}{{s.unescape.param}});
    if ($var(received) != $null && $var(received) != "") {{
        $du = $var(received);
    }}
    remove_hf("Route");
    if (is_method("INVITE|SUBSCRIBE|REFER")) {{
        record_route();
    }}
    route(RELAY);
}}

route[WITHIN_DIALOG] {{
    if (loose_route()) {{
        if (!isdsturiset()) {{
            handle_ruri_alias();        # towards a phone behind NAT: where its Contact's alias says
        }}
        route(RELAY);
    }}
    if (is_method("ACK")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    sl_send_reply("404", "Not here");
    exit;
}}

route[RELAY] {{
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

onreply_route {{
    if (!ds_is_from_list("1")) {{
        subst_hf("Contact", "/;alias=[^;>]*//", "a");
        if (nat_uac_test("1")) {{
            set_contact_alias();       # a phone behind NAT answers: its Contact carries where it really is
        }}
    }}
}}

failure_route[NEXT_NODE] {{
    if (t_is_canceled()) {{
        exit;
    }}
    if (t_branch_timeout() && !t_branch_replied()) {{
        xlog("L_WARN", "calltape node $du did not answer: the next one, call-id $ci\\n");
        ds_mark_dst("ip");
    }} else if (t_check_status("503") && $T_rpl($hdr(Retry-After)) != $null) {{
        xlog("L_WARN", "calltape node $du is overloaded or draining: the next one, call-id $ci\\n");
    }} else {{
        exit;
    }}
    if (ds_next_dst()) {{
        t_on_failure("NEXT_NODE");
        route(RELAY);
    }}
}}
"""


def render(host: str, port: int, list_file: str, probe_interval: int = 5) -> str:
    """The configuration for an edge listening on *host*:*port* whose nodes are in *list_file*."""
    return _TEMPLATE.format(host=host, port=port, list_file=list_file, probe_interval=probe_interval)


def node_list(nodes: list[str]) -> str:
    """Dispatcher's list of *nodes* (``sip:HOST:PORT``): set 1, each an equal peer."""
    return "".join(f"1 {node} 0 0\n" for node in nodes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``edge-config``'s flags."""
    parser.add_argument("--listen", metavar="HOST:PORT", required=True, help="the edge's SIP address (UDP and TCP)")
    parser.add_argument(
        "--node", metavar="sip:HOST:PORT", action="append", required=True, help="a calltape node (repeat for each)"
    )
    parser.add_argument("--list", metavar="FILE", default=DEFAULT_LIST, help="where the node list is written")
    parser.add_argument("--probe-interval", metavar="SECONDS", type=int, default=5, help="OPTIONS probing (default 5)")


def run(args: argparse.Namespace) -> int:
    """Write the node list, print the configuration."""
    try:
        listen = parse_host_port(args.listen, "--listen")
        nodes = [_node(node) for node in args.node]
        if not 1 <= args.probe_interval <= 3600:
            raise ConfigError("--probe-interval: 1 to 3600 seconds")
        Path(args.list).write_text(node_list(nodes))
    except (ConfigError, OSError) as exc:
        print(f"calltape: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render(listen.host, listen.port, str(Path(args.list).resolve()), args.probe_interval))
    return 0


def _node(text: str) -> str:
    """``sip:HOST:PORT`` as dispatcher takes it (a bare HOST:PORT is given its scheme)."""
    return f"sip:{parse_host_port(text.removeprefix('sip:'), '--node')}"

"""``pynomaly dashboard``: serve the live dashboard.

Tokens come from ``--ingest-token``/``--view-token`` or
``PYNOMALY_DASHBOARD_INGEST_TOKEN``/``PYNOMALY_DASHBOARD_VIEW_TOKEN``; a token
left unset is generated and printed once (configured tokens are never printed). Every other setting also has a
``PYNOMALY_DASHBOARD_<NAME>`` variable (see :mod:`pynomaly.dashboard.config`).

>>> from pynomaly.cli.main import build_parser
>>> args = build_parser().parse_args(["dashboard", "--port", "9000", "--allowed-origin", "https://ops.example"])
>>> args.port, args.allowed_origin
(9000, ['https://ops.example'])
"""

from __future__ import annotations

import argparse


def _cmd(args: argparse.Namespace) -> int:
    from pynomaly.dashboard.config import DashboardSettings
    from pynomaly.dashboard.server import serve, with_public_url

    settings = DashboardSettings.from_env(
        ingest_token=args.ingest_token,
        view_token=args.view_token,
        redis_url=args.redis_url,
        history_points=args.history_points,
        max_connections_per_client=args.max_connections,
        max_connections_per_token=args.max_connections_per_token,
        max_connections=args.max_connections_total,
        public_url=args.public_url,
        allowed_origins=tuple(args.allowed_origin) if args.allowed_origin else None,
        verdicts_url=args.verdicts,
    )
    settings = with_public_url(settings, args.host, args.port)
    base = settings.public_url.rstrip("/")
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    if "view" in settings.generated_tokens:  # a configured token is never echoed
        print(f"dashboard   {base}/#token={settings.view_token}")
    else:
        print(f"dashboard   {base}/  (sign in with the configured view token)")
    print(f"ingest      ws://{shown_host}:{args.port}/ws/ingest")
    print(f"origins     {', '.join(sorted(settings.origins))}"
          "  (viewers elsewhere: --public-url or --allowed-origin)")
    if "ingest" in settings.generated_tokens:
        print(f"ingest token (generated)  {settings.ingest_token}")
        print("  flows: export PYNOMALY_DASHBOARD_INGEST_TOKEN=<that token>")
    if settings.redis_url:
        print(f"history     {settings.redis_url} (prefix {settings.redis_prefix})")
    serve(settings, host=args.host, port=args.port, log_level=args.log_level or "warning")
    return 0


DESCRIPTION = """\
Serve the live dashboard: flows publish to its ingest WebSocket (a sink of
type dashboard), viewers open the page with the view token. Tokens come from
--ingest-token/--view-token or PYNOMALY_DASHBOARD_INGEST_TOKEN and
PYNOMALY_DASHBOARD_VIEW_TOKEN; a token left unset is generated and printed
once. Every other setting also has a PYNOMALY_DASHBOARD_<NAME> variable."""

EPILOG = """\
examples:
  pynomaly dashboard                                   # http://127.0.0.1:8765/#token=...
  pynomaly dashboard --redis-url redis://127.0.0.1:6379/0   # history survives restarts
  PYNOMALY_DASHBOARD_VIEW_TOKEN=s3cret pynomaly dashboard --host 0.0.0.0 \\
      --allowed-origin https://ops.example
  then, in a flow spec:
    sinks: [{type: dashboard, url: ws://127.0.0.1:8765/ws/ingest}]
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("dashboard", help="serve the live dashboard (fed by flows)",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--ingest-token", default=None, help="token flows publish with")
    p.add_argument("--view-token", default=None, help="token viewers sign in with")
    p.add_argument("--redis-url", default=None,
                   help="keep history in Redis and backfill viewers from it")
    p.add_argument("--history-points", type=int, default=None, help="points kept per key")
    p.add_argument("--max-connections", type=int, default=None,
                   help="open WebSockets allowed per client address")
    p.add_argument("--public-url", default=None,
                   help="URL viewers open the dashboard at, e.g. https://dash.example; only "
                   "its origin may connect (default: http://HOST:PORT)")
    p.add_argument("--allowed-origin", action="append", default=None,
                   help="extra browser origin allowed to connect (repeatable)")
    p.add_argument("--max-connections-per-token", type=int, default=None,
                   help="open WebSockets allowed per token or session (default 64)")
    p.add_argument("--max-connections-total", type=int, default=None,
                   help="open WebSockets allowed in all (default 256)")
    p.add_argument("--verdicts", default=None, metavar="kafka://HOST:PORT/TOPIC",
                   help="topic the verdict buttons write to (the flow's feedback.verdicts); "
                        "default: no buttons")
    p.set_defaults(func=_cmd)

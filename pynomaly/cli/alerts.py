"""``pynomaly alerts tail``: follow a flow's alerts topic.

Each alert is validated against its schema and printed as one line (or, with
``--json``, as the JSON line it was published as). Messages that are not
alerts and Kafka errors are shown on standard error, never hidden; a topic
that does not exist yet is waited for.

>>> from pynomaly.cli.main import build_parser
>>> args = build_parser().parse_args(["alerts", "tail", "kafka://127.0.0.1:9092/alerts",
...                                   "--from-beginning", "--key", "db-1", "--json"])
>>> args.target, args.from_beginning, args.key, args.json
('kafka://127.0.0.1:9092/alerts', True, ['db-1'], True)
"""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
examples:
  pynomaly alerts tail kafka://127.0.0.1:9092/alerts
  pynomaly alerts tail kafka://127.0.0.1:9092/alerts --from-beginning --key db-1
  pynomaly alerts tail kafka://127.0.0.1:9092/alerts --json | jq .score
  pynomaly alerts tail kafka://127.0.0.1:9092/alerts --group pager   # resume where it stopped
"""


def _tail(args: argparse.Namespace) -> int:
    from pynomaly.alerts import AlertConsumer, AlertError, format_alert
    from pynomaly.devtools.generator_sinks import parse_kafka_url

    bootstrap, topic = parse_kafka_url(args.target)
    keys = set(args.key or [])

    def say(text: str) -> None:
        print(f"pynomaly: {text}", file=sys.stderr, flush=True)

    def on_error(error: AlertError) -> None:
        say(f"skipped {error}" if error.reason != "kafka" else f"kafka error: {error.detail}")

    where = "from the beginning" if args.from_beginning else "new alerts only"
    shown = 0
    consumer = AlertConsumer(bootstrap, topic, group_id=args.group,
                             from_beginning=args.from_beginning, on_error=on_error,
                             on_wait=lambda text: say(text + " (Ctrl-C stops)"),
                             idle_timeout_s=args.idle_exit)
    try:
        with consumer:
            say(f"tailing {args.target} ({where}); Ctrl-C stops")
            for got in consumer.received():
                if keys and got.alert.key not in keys:
                    continue
                if args.json:
                    sys.stdout.write(got.value.decode() + "\n")
                else:
                    sys.stdout.write(format_alert(got.alert) + "\n")
                sys.stdout.flush()
                shown += 1
                if args.count and shown >= args.count:
                    break
    except KeyboardInterrupt:
        pass
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "alerts", help="read a flow's alerts", description="Read a flow's alerts topic.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    tail = actions.add_parser(
        "tail", help="follow an alerts topic: one line per alert",
        description=__doc__.split("\n\n")[1].replace("``", ""),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    tail.add_argument("target", metavar="kafka://HOST:PORT/TOPIC", help="the alerts topic")
    tail.add_argument("--from-beginning", action="store_true",
                      help="start with the oldest alert (default: new alerts only)")
    tail.add_argument("--key", action="append", metavar="K",
                      help="only alerts of this entity key (repeatable)")
    tail.add_argument("--json", action="store_true",
                      help="print each alert as the JSON line it was published as")
    tail.add_argument("--group", default=None,
                      help="consumer group: resume where it stopped, commit what was shown "
                      "(default: read alone, commit nothing)")
    tail.add_argument("--count", type=int, default=0, metavar="N",
                      help="stop after N alerts (default 0: never)")
    tail.add_argument("--idle-exit", type=float, default=None, metavar="S",
                      help="stop after S seconds without a message, or when the topic has "
                      "not appeared after S seconds (default: never)")
    tail.set_defaults(func=_tail)

"""The ``pynomaly`` command. Each module here with a ``register(subparsers)``
function contributes one subcommand."""

"""Implementation of the ``recipes/mbnet.py`` subcommands (train, eval, upscale, demo).

Each submodule exposes ``add_arguments(parser)`` and ``main(args) -> int`` so the command line in
``recipes/mbnet.py`` stays a thin dispatcher and every subcommand is importable and testable.
"""

"""CLI commands, one module each.

A command module defines ``NAME``, ``HELP`` (one line for ``govops --help``), ``ORDER``
(its place in the list), ``configure(parser)`` and ``run(args) -> exit code``. It imports
heavy dependencies inside ``run`` so ``govops --help`` and quick commands start fast.
"""

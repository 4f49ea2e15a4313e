"""``python -m channels.cli``: the same as the ``channels`` command."""

from . import main

main()

"""`python -m rotation` is the `rotation` command."""

from rotation.cli import main

main()

"""`python -m rotation` is the `rotation` command."""

from rotation.cli.app import main

main()

"""`python -m cli`: the `chidao` command without its script (the dispatcher crash tests run it so)."""

from cli import main

main()

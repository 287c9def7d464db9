"""Run the `kiosk` command as `python -m kiosk`."""

from kiosk.cli import main

main()

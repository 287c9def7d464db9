"""`python -m district`: the same as the `district` command."""

from district.cli import main

main(prog_name="district")

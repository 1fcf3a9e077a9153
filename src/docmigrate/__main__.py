"""Run the command line: ``python -m docmigrate``."""

from docmigrate.cli import main

main()

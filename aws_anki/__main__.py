"""`python -m aws_anki` runs the command-line interface."""
from .cli import main

main()

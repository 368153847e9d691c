"""``python -m roadseg ...`` is ``roadseg ...`` (useful where the script is not on PATH)."""

from roadseg.cli import main

main()

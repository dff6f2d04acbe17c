"""The terminal's two consoles, shared by the command line and every command (a leaf: it imports only rich)."""

from rich.console import Console

out = Console()
err = Console(stderr=True, soft_wrap=True)  # messages carry paths and commands: never break them

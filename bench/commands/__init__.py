"""CLI subcommands that live in their own modules (registered in bench.cli.LAZY_COMMANDS)."""

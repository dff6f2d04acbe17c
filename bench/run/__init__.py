"""A run: its options and config, the session that loads a backend and drives LoadGen (harness), the SUT and QSL glue,
warm-up, budgets, signals and endings, and what is measured beside it (power, latencies, the machine)."""

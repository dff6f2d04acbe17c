"""The results index (store: SQLite beside a results tree, derived from its result.json files) and `bench history`
over it (history: a configuration's figure over time and software versions, regressions flagged)."""

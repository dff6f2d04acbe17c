"""The MLPerf workflow around runs: tune (user.conf), compliance audits, the submission tree."""

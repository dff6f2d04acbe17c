"""Statistics over repeated runs: describe (centre, spread, 95% interval), ratio (two configurations: interval and
verdict), stability (--until-stable), figures (what is read from a record), repeats (the series and its summary),
verdicts and report (bench compare's verdicts and accuracy gates, terminal output). numpy and the standard library."""

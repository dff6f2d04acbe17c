"""Statistics over repeated runs: describe (centre, spread, 95% interval), ratio (two configurations: interval and
verdict), stability (--until-stable), figures (what is read from a record: the one place that knows its layout),
repeats (the series and its summary), verdicts (bench compare's verdicts and accuracy gates), report (terminal) and
page (bench report's Repeated runs section). numpy and the standard library."""

"""`bench sweep`: a plan of runs, executed here or on a Ray cluster, landed in one results tree."""

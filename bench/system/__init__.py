"""The floor: what the machine and this process are (devices, sysinfo, signals, malloc). Imports nothing of bench
above bench.errors, so every layer above may read it."""

"""What one run is asked to do: the option table declared as RunConfig's fields, the options that travel to a
backend, their checks, and how they become click options and `bench run` commands. Below the harness, the
backends and the commands, so every one of them reads the same declaration."""

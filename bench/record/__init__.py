"""The result record and what reads it: result.json, LoadGen's logs, accuracy, the terminal summary."""

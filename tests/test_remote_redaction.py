"""A --header value (a credential) reaches the remote backend but never a record or a printed command. Needs no
server and no tritonclient: the redaction is the option table's (bench/config/run_config.py)."""

from __future__ import annotations

from bench.config.command_line import run_config, to_command
from bench.config.run_config import BY_NAME

SECRET = "Bearer s3cr3t"


def test_the_header_value_is_kept_for_the_backend_and_redacted_everywhere_it_is_written():
    cfg = run_config({"backend": "remote", "url": "grpc://127.0.0.1:8001", "header": f"Authorization: {SECRET}"})
    assert BY_NAME["header"].secret
    assert cfg.extra["header"] == f"Authorization: {SECRET}"  # what the backend sends
    record = cfg.to_record()
    assert record["extra"]["header"] == "Authorization: <redacted>" and SECRET not in repr(record)
    for command in (to_command(cfg), to_command(record)):  # tune's "use it" line, a submission's reproduce lines
        assert SECRET not in command and "--header 'Authorization: <redacted>'" in command

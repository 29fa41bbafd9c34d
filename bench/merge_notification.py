#!/usr/bin/env python3
"""The "merge in Python" step of the vendor guide's S3 trigger, as a user would script it.

    merge_notification.py CURRENT.json FUNCTION_ARN ENTRY_ID [PREFIX] > NEW.json

CURRENT.json is what `aws s3api get-bucket-notification-configuration` printed (empty when the
bucket has no configuration). Every other entry stays as it was; an entry with our id is
replaced. The floor client (bench/floor.py) uses `merge` directly.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def entry(function_arn: str, entry_id: str, prefix: str = "") -> dict[str, Any]:
    """Our Lambda entry: every object-create event, optionally under a key prefix."""
    e: dict[str, Any] = {
        "Id": entry_id,
        "LambdaFunctionArn": function_arn,
        "Events": ["s3:ObjectCreated:*"],
    }
    if prefix:
        e["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}
    return e


def merge(current: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """The bucket's configuration with `ours` in place of any entry of the same id."""
    config = {k: v for k, v in current.items() if k != "ResponseMetadata"}
    lambdas = [e for e in config.get("LambdaFunctionConfigurations", []) if e.get("Id") != ours["Id"]]
    config["LambdaFunctionConfigurations"] = lambdas + [ours]
    return config


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        text = f.read().strip()
    current = json.loads(text) if text else {}
    prefix = argv[4] if len(argv) == 5 else ""
    json.dump(merge(current, entry(argv[2], argv[3], prefix)), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

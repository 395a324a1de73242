#!/usr/bin/python3
"""Validate report records (JSON lines) against the schemas in docs/reports.md.

Each schema there is a ```json block under a `<!-- schema: DATASET -->` line;
a record is checked against the schema of its event.dataset. Every failure is
printed as FILE:LINE: the field's path, the value and what the schema allows.

Usage: tests/report_schema.py [--docs docs/reports.md] [FILE...]   (- or none: stdin)
Exit 0 when every record passes and there was at least one, 1 otherwise.
"""
import json
import os
import re
import sys

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import jsonschema  # noqa: E402  (Debian's python3-jsonschema)

SCHEMA = re.compile(r"<!-- schema: ([\w.]+) -->\s*```json\n(.*?)```", re.S)


def load(docs):
    text = open(docs, encoding="utf-8").read()
    out = {}
    for m in SCHEMA.finditer(text):
        schema = json.loads(m.group(2))
        jsonschema.Draft202012Validator.check_schema(schema)
        out[m.group(1)] = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.FormatChecker())
    if not out:
        sys.exit(f"{docs}: no schemas (<!-- schema: DATASET --> then a json block)")
    return out


def main(argv):
    docs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "reports.md")
    if len(argv) >= 2 and argv[0] == "--docs":
        docs, argv = argv[1], argv[2:]
    validators = load(docs)
    files = argv or ["-"]
    bad = seen = 0
    for name in files:
        fh = sys.stdin if name == "-" else open(name, encoding="utf-8")
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{name}:{n}"
            seen += 1
            try:
                rec = json.loads(line)
            except ValueError as e:
                print(f"{where}: not JSON: {e}")
                bad += 1
                continue
            ds = rec.get("event", {}).get("dataset") if isinstance(rec, dict) else None
            v = validators.get(ds)
            if v is None:
                print(f"{where}: event.dataset {ds!r}: no schema (known: {', '.join(sorted(validators))})")
                bad += 1
                continue
            for err in sorted(v.iter_errors(rec), key=lambda e: list(e.path)):
                path = ".".join(str(p) for p in err.path) or "(record)"
                print(f"{where}: {path} = {json.dumps(err.instance)[:120]}: {err.message[:200]}")
                bad += 1
    if not seen:
        print("report_schema: no records to check")
        return 1
    print(f"report_schema: {seen} records, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

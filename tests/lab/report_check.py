#!/usr/bin/python3
"""What a SOC subscriber received of a gateway's reports, against what the
gateway put in its spool (tests/integration/report_spool.sh).

    report_check.py SUB_OUT PUTS [--allow-unknown] [--min-replayed N]
                    [--records FILE] [--bytes FILE] [--min-message BYTES]

SUB_OUT: mosquitto_sub -F '%t %x' lines (topic, payload in hex); on the
summary, alert and asset topics (state is skipped) each payload is one zstd frame of JSON lines (docs/reports.md "On the wire"), decompressed
with Debian's zstd. PUTS: the probe's "put SEQ" lines (records on flash).
Every record must be a JSON object with observer.id, event.dataset and
tg.seq; deduplicated by (observer.id, tg.seq) as a collector does. Exit 1
when a put record never arrived, or (without --allow-unknown) a record
arrived that was never put, or fewer than N arrived marked tg.replayed.
Prints one summary line.

PUTS `-`: no list of what was put (the live gateway, tests/integration/
report_live.sh): the distinct tg.seq must then run without a hole from the
first to the last (the spool numbers one run's records one by one).
--records FILE: every distinct record, one JSON line each (for
tests/report_schema.py). --bytes FILE: every byte received, decompressed
(the state and will as they came), for a privacy scan. --min-message BYTES:
at least one report message that large on the wire, none of its records cut.
"""
import json
import os
import subprocess
import sys

# The records' zstd dictionary (docs/reports.md "On the wire"): frames name it.
DICT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "firmware", "report", "records-v2.zdict")


def main():
    args = sys.argv[1:]
    allow_unknown = "--allow-unknown" in args
    min_replayed = 0
    if "--min-replayed" in args:
        min_replayed = int(args[args.index("--min-replayed") + 1])
    def opt(name):
        return args[args.index(name) + 1] if name in args else None
    records_out, bytes_out, min_message = opt("--records"), opt("--bytes"), int(opt("--min-message") or 0)
    sub, puts = args[0], args[1]
    want = set()
    if puts != "-":
        with open(puts) as f:
            for line in f:
                if line.startswith("put "):
                    want.add(int(line.split()[1]))
    else:
        allow_unknown = True
    raw = open(bytes_out, "wb") if bytes_out else None
    largest = 0
    got, dups, messages, wire, replayed, problems = {}, 0, 0, 0, set(), []
    with open(sub) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 2:
                continue
            topic, payload = parts[0], bytes.fromhex(parts[1])
            if topic.rsplit("/", 1)[-1] not in ("summary", "alert", "asset"):
                if raw:
                    raw.write(payload + b"\n")
                continue  # the retained state, the will: not reports
            messages += 1
            wire += len(payload)
            r = subprocess.run(["zstd", "-dcq", "-D", DICT], input=payload, capture_output=True)
            if r.returncode != 0:
                problems.append(f"{sub}:{n}: message on {topic} is not a zstd frame: {r.stderr.decode().strip()}")
                continue
            if raw:
                raw.write(r.stdout)
            if b'"cut":' not in r.stdout:
                largest = max(largest, len(payload))
            for rec in r.stdout.decode().splitlines():
                try:
                    j = json.loads(rec)
                    key = (j["observer"]["id"], j["tg"]["seq"])
                    j["event"]["dataset"]
                except (ValueError, KeyError, TypeError) as e:
                    problems.append(f"{sub}:{n}: not a report record ({e}): {rec[:120]}")
                    continue
                leaf = {"townguard.summary": "summary", "townguard.alert": "alert",
                        "townguard.asset": "asset"}.get(j["event"]["dataset"])
                if not leaf or not topic.endswith("/" + leaf):
                    problems.append(f"{sub}:{n}: a {j['event']['dataset']} record on {topic}")
                if key in got:
                    dups += 1
                got[key] = j
                if j["tg"].get("replayed") is True:
                    replayed.add(key[1])
    if raw:
        raw.close()
    seqs = {k[1] for k in got}
    if puts == "-" and seqs:
        want = set(range(min(seqs), max(seqs) + 1))
    if records_out:
        with open(records_out, "w") as f:
            for k in sorted(got, key=lambda k: k[1]):
                f.write(json.dumps(got[k]) + "\n")
    if largest < min_message:
        problems.append(f"no uncut message of {min_message} bytes or more: the largest was {largest}")
    missing = sorted(want - seqs)
    unknown = sorted(seqs - want)
    print(f"{messages} messages, {wire} bytes on the wire: {len(got) + dups} records, {len(got)} distinct "
          f"({dups} sent twice, removed by tg.seq), {len(want)} put, {len(missing)} missing, "
          f"{len(unknown)} unknown, {len(replayed)} replayed")
    for p in problems[:10]:
        print(p)
    if missing:
        print(f"missing tg.seq: {missing[:20]}{' ...' if len(missing) > 20 else ''}")
    if unknown and not allow_unknown:
        print(f"never put: {unknown[:20]}")
    ok = not problems and not missing and (allow_unknown or not unknown) and len(replayed) >= min_replayed
    sys.exit(0 if ok else 1)


main()

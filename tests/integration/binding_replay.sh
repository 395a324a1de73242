#!/usr/bin/env bash
# DNS bindings that do not punish neighbours, on real captures
# (../shared/pcaps): tg-hub builds a bundle from a hosts file, exact
# (init.itunes.apple.com, outlook.office.com) and a domains list
# (applicationinsights.microsoft.com, zoomfrn99mmr.zoom.us), and townguard
# replays iphone, teams and zoom with it. The DNS answers for the listed
# names share their addresses with other names (one CDN edge):
#   iphone.pcap  95.101.24.53  answered for init., bag. and sync.itunes.apple.com;
#                              a TLS flow to it names sync.itunes.apple.com
#   teams.pcap   40.79.138.41  answered for dc.applicationinsights.microsoft.com;
#                              two TLS flows to it name gate.hockeyapp.net
#   zoom.pcap    109.94.160.99 answered for zoomfrn99mmr.zoom.us; three flows to
#                              it name nothing
# Expected, flow by flow, from ndpiReader's own listing of each capture (an
# oracle independent of townguard): a flow whose name ndpiReader saw is
# blocked exactly when that name is listed (exact entries: the name itself;
# domains: the name or a subdomain), at stage dns, sni or http_host; a flow
# with no name is blocked only by the binding of a domains entry (zoom); no
# other flow gets a verdict. Skips when ../shared is absent.
set -euo pipefail
. "${TOP:-.}/tests/lib.sh"
replay_setup
printf '0.0.0.0 init.itunes.apple.com\n0.0.0.0 outlook.office.com\n' >hosts.txt
printf 'applicationinsights.microsoft.com\nzoomfrn99mmr.zoom.us\n' >domains.txt
"$build/tg-hub" build --key keys/hub.key --region township-test --serial 3 --out scope.bundle --strict \
	hosts:hosts.txt,exact,rule=2001 domains:domains.txt,rule=2002 >build.log
for cap in iphone teams zoom; do
	"$build/townguard" replay "$pcaps/$cap.pcap" --flows --quiet --bundle scope.bundle \
		--ndpi-dir "$pcaps/ndpi-config" -o gateway.region=township-test \
		-o bundle.hub_key=keys/hub.pub >"$cap.json" 2>"$cap.totals"
done

/usr/bin/python3 - "$pcaps/expected" <<'PY'
import json, re, sys
exp_dir = sys.argv[1]
EXACT = {"init.itunes.apple.com": 2001, "outlook.office.com": 2001}
DOMAINS = {"applicationinsights.microsoft.com": 2002, "zoomfrn99mmr.zoom.us": 2002}
BOUND = {"zoom": {"109.94.160.99": "zoomfrn99mmr.zoom.us"}}  # nameless flows to these

def listed(name):
    """(rule, indicator) of the entry covering name, or None."""
    if name in EXACT:
        return EXACT[name], name
    for d, rule in DOMAINS.items():
        if name == d or name.endswith("." + d):
            return rule, d
    return None

def ndpireader(cap):
    """(l4, frozenset of endpoints) -> Hostname/SNI or None, every flow ndpiReader listed."""
    out = {}
    for line in open(f"{exp_dir}/{cap}.pcap.ndpireader.txt", errors="replace"):
        m = re.match(r"^\t\d+\t(\S+) (\S+):(\d+) \S+ (\S+):(\d+) (.*)", line)
        if m:
            h = re.search(r"\[Hostname/SNI: ([^\]]+)\]", m[6])
            out[(m[1], frozenset([(m[2], int(m[3])), (m[4], int(m[5]))]))] = h[1] if h else None
    return out

checked = blocked = spared = 0
for cap in ("iphone", "teams", "zoom"):
    oracle = ndpireader(cap)
    flows = [json.loads(l) for l in open(f"{cap}.json")]
    for f in flows:
        k = (f["l4"], frozenset([(f["src"], f["sport"]), (f["dst"], f["dport"])]))
        if k not in oracle:
            assert f["verdict"] is None, (cap, "a flow ndpiReader did not list got a verdict", f)
            continue
        name = oracle[k]
        v = f["verdict"]
        got = (v["rule"], v["indicator"], v["action"]) if v else None
        if name:
            hit = listed(name)
            want = (hit[0], hit[1], "block") if hit else None
            assert got == want, (cap, name, f)
            if hit:
                stage = {"DNS": "dns", "HTTP": "http_host"}.get(f["proto"].split(".")[0], "sni")
                assert v["stage"] == stage, (cap, name, f)
        else:
            bound = BOUND.get(cap, {}).get(f["dst"])
            want = (listed(bound)[0], bound, "block") if bound else None
            assert got == want, (cap, "no name", f)
            if bound:
                assert v["stage"] == "dns_binding", f
        checked += 1
        blocked += got is not None
        # A neighbour on an address answered for a listed name, judged by its own name.
        if name and not got and cap != "zoom" and f["dst"] in ("95.101.24.53", "40.79.138.41"):
            spared += 1

names = lambda cap: {json.loads(l)["host"] for l in open(f"{cap}.json")}
assert "sync.itunes.apple.com" in names("iphone") and "gate.hockeyapp.net" in names("teams")
assert spared == 3, spared  # sync.itunes.apple.com once, gate.hockeyapp.net twice
zoom_bound = [json.loads(l) for l in open("zoom.json")]
zoom_bound = [f for f in zoom_bound if f["dst"] == "109.94.160.99" and f["host"] is None]
assert len(zoom_bound) == 3 and all(f["verdict"]["stage"] == "dns_binding" for f in zoom_bound), zoom_bound
print(f"{checked} flows checked against ndpiReader, {blocked} blocked (the listed names and the "
      f"nameless flows to a domains entry's address), {spared} neighbours on shared addresses spared")
PY
echo PASS

#!/usr/bin/env bash
# tg-soc report --html and tg-soc indicators over two gateways' real records
# (`townguard replay --reports` of a shared capture with a bundle whose rules
# hit, as JSON lines): docs/tg-soc.md "The report page", "Indicators".
#
#   - the page opened in headless Chromium (Debian's package): a screenshot
#     and a PDF (print) are made; the DOM the inline script built shows data
#     in each of the five plots (data-points), the members' names and the
#     indicators hit; Chromium's log has no console message; its net log
#     has no request from the page. Both checks can fail: a copy of the page
#     whose script was changed (its hash no longer in the CSP) logs the
#     refusal, and a copy without the CSP that fetches shows the request;
#   - indicators: without --yes or a confirmation nothing is written; with
#     "y" on standard input the bundle lists both indicators hit at both
#     gateways (x_tg_members 2) and `tg-hub build --strict stix:FILE` takes it.
set -uo pipefail
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib.sh"
build=$top/${BUILD:-build}
soc=$build/tg-soc
CHROMIUM=$(command -v chromium || echo /usr/bin/chromium)
for t in "$CHROMIUM" jq; do
	command -v "$t" >/dev/null || [ -x "$t" ] || { echo "skipped: no $t (tools/install-deps)"; exit 77; }
done
[ -x "$soc" ] || fail "$soc not built"
replay_setup
on_fail() { show_log "$work/chromium.err" 20; }

printf '0.0.0.0 textsecure-service.whispersystems.org\n' >hosts.txt
printf 'itunes.apple.com\n' >alert.txt
"$build/tg-hub" build --key keys/hub.key --region north --serial 5 --out hits.bundle --strict \
	hosts:hosts.txt,exact,rule=3001 domains:alert.txt,rule=3002,action=alert >/dev/null || fail "tg-hub build"
for gw in gw-a gw-b; do
	"$build/townguard" replay "$pcaps/signal.pcap" --reports --bundle hits.bundle -o bundle.hub_key=keys/hub.pub \
		-o gateway.data_dir="data-$gw" -o gateway.id="$gw" -o gateway.region=north -o report.interval=10 \
		>>records.jsonl 2>/dev/null || fail "replay for $gw"
done

# ---------------------------------------------------------------- the page
# The capture is from 2019: the window reaches back that far.
run 0 "$soc" report --from records.jsonl --since 3000d --html report.html
has out "2 members"
grep -Eq '(src|href)=|url\(|@import' report.html && fail "the page names something to load"
has report.html "default-src 'none'"
# Chromium without its own background traffic; its page requests carry the file:// origin.
CH=("$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
	--disable-component-update --disable-sync --disable-default-apps --disable-breakpad
	--enable-logging=stderr --v=0 --window-size=1000,1400)
chrome() { # PAGE NAME ARGS...: DOM in NAME.dom, log in NAME.log, net log NAME.net
	local page=$1 name=$2
	shift 2
	timeout 60 "${CH[@]}" --log-net-log="$work/$name.net" "$@" "file://$work/$page" >"$name.dom" 2>"$name.log"
}
page_requests() { # NET: the URLs the page itself asked for
	/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
urls = {e["params"]["url"] for e in d["events"]
        if "url" in e.get("params", {}) and "file://" in str(e["params"].get("network_isolation_key", ""))}
print("\n".join(sorted(urls)))' "$1"
}
chrome report.html page --dump-dom || fail "chromium --dump-dom failed: $(tail -n 3 page.log)"
cp page.log chromium.err
for plot in traffic alerts serials indicators devices; do
	n=$(grep -o "<section id=\"$plot\" data-points=\"[0-9]*\"" page.dom | grep -o '[0-9]*"$' | tr -d '"')
	[ "${n:-0}" -gt 0 ] || fail "plot $plot drew nothing (data-points ${n:-none})"
	echo "ok: $plot: $n points"
done
for w in gw-a gw-b itunes.apple.com textsecure-service.whispersystems.org; do
	grep -q "$w" <(sed 's/<script.*<\/script>//' page.dom) || fail "the page does not show $w"
done
grep -q 'CONSOLE' page.log && fail "console messages: $(grep CONSOLE page.log | head -n 3)"
[ -z "$(page_requests page.net)" ] || fail "the page made requests: $(page_requests page.net)"
echo "ok: every plot has data from gw-a and gw-b; no console message, no request"
# The checks can fail: a changed script (CSP refuses it), and a page without CSP that fetches.
sed 's/var NS=/fetch("http:\/\/198.51.100.1\/x");var NS=/' report.html >changed.html
chrome changed.html changed --dump-dom
grep -q 'CONSOLE.*Content Security Policy' changed.log || fail "a changed script ran or was not logged"
grep -v 'Content-Security-Policy' changed.html >nocsp.html
chrome nocsp.html nocsp --dump-dom
page_requests nocsp.net | grep -q '198.51.100.1' || fail "the net log does not show a page's request"
echo "ok: a changed script is refused (console), a page that fetches shows in the net log"
chrome report.html shot --screenshot="$work/report.png"
chrome report.html pdf --print-to-pdf="$work/report.pdf" --no-pdf-header-footer
[ "$(head -c 4 report.png | xxd -p)" = 89504e47 ] && [ "$(stat -c %s report.png)" -gt 20000 ] ||
	fail "no screenshot: $(ls -la report.png 2>&1)"
[ "$(head -c 4 report.pdf)" = "%PDF" ] || fail "no PDF (print): $(ls -la report.pdf 2>&1)"
echo "ok: screenshot $(stat -c %s report.png) bytes, printed $(stat -c %s report.pdf) bytes"

# ---------------------------------------------------------------- indicators
run 1 "$soc" indicators --from records.jsonl --since 3000d --out feed.json </dev/null
has err "a person reviews the list first"
[ -e feed.json ] && fail "feed.json written without review"
echo n | "$soc" indicators --from records.jsonl --since 3000d --review --out feed.json >list.txt 2>&1 &&
	fail "written after \"n\""
[ -e feed.json ] && fail "feed.json written after \"n\""
has list.txt "itunes.apple.com"
echo y | "$soc" indicators --from records.jsonl --since 3000d --review --out feed.json >list.txt 2>&1 ||
	fail "indicators --review with y: $(cat list.txt)"
jq -e '.type == "bundle" and ([.objects[] | select(.type == "indicator" and .spec_version == "2.1"
	and .pattern_type == "stix" and .x_tg_members == 2 and (.valid_until | type) == "string")
	| .pattern] | sort == ["[domain-name:value = '\''itunes.apple.com'\'']",
		"[domain-name:value = '\''textsecure-service.whispersystems.org'\'']"])' feed.json >/dev/null ||
	fail "the STIX bundle: $(cat feed.json)"
run 0 "$soc" indicators --from records.jsonl --since 3000d --min-members 3 --yes --out none.json
has out "0 indicators"
run 0 "$build/tg-hub" build --key keys/hub.key --region north --serial 6 --out next.bundle --strict \
	stix:feed.json,rule=4001
has out "2 entries"
run 0 "$build/tg-hub" show next.bundle --lookup itunes.apple.com
has out "rule 4001, action block"
echo "ok: indicators: reviewed, two at two members, taken by tg-hub build --strict"
echo PASS

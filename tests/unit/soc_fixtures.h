/*
 * Records of each kind for tg-soc's unit tests (test_soc_schema.c, test_soc_store.c):
 * each passes its schema in docs/reports.md (tests/report_schema.py says so too);
 * gateway gw-a, region north, tg.seq 1, 2, 3.
 */
#ifndef TG_SOC_FIXTURES_H
#define TG_SOC_FIXTURES_H

#define SOC_FX_SUMMARY \
	"{\"@timestamp\":\"2026-12-03T10:01:00.000Z\",\"ecs\":{\"version\":\"8.11.0\"},\"event\":{\"ki" \
	"nd\":\"metric\",\"dataset\":\"townguard.summary\",\"id\":\"1ae2996b6a6c3b12e75dfdb44fa0355" \
	"5\",\"start\":\"2026-12-03T10:00:00.000Z\",\"end\":\"2026-12-03T10:01:00.000Z\",\"duration" \
	"\":60000000000},\"observer\":{\"id\":\"gw-a\",\"name\":\"gw-a\",\"version\":\"0.1.0\"},\"organiz" \
	"ation\":{\"id\":\"north\"},\"labels\":{\"tlp\":\"amber\"},\"network\":{\"bytes\":5752,\"packets\"" \
	":21},\"tg\":{\"seq\":1,\"replayed\":false,\"summary\":{\"interval_s\":60,\"totals\":{\"bytes\"" \
	":5752,\"packets\":21,\"flows\":1,\"hosts\":1},\"applications\":[{\"name\":\"TLS\",\"bytes\":57" \
	"52,\"packets\":21,\"flows\":1}],\"categories\":[{\"name\":\"Web\",\"bytes\":5752,\"packets\":2" \
	"1,\"flows\":1}],\"hosts\":{\"top\":[{\"id\":\"ip-0123456789ab\",\"bytes\":5752,\"pack" \
	"ets\":21,\"flows\":1}],\"other\":{\"count\":0,\"bytes\":0,\"packets\":0,\"flows\":0}},\"destin" \
	"ations\":{\"top\":[{\"domain\":\"example.org\",\"bytes\":5752,\"packets\":21,\"flows\":1},{\"i" \
	"p\":\"2001:db8::1\",\"bytes\":1,\"packets\":1,\"flows\":1}],\"other\":{\"count\":0,\"bytes\":0," \
	"\"packets\":0,\"flows\":0}},\"blocks\":[{\"rule\":{\"id\":\"7\"},\"bundle\":{\"serial\":42},\"act" \
	"ion\":\"block\",\"count\":3}],\"blocks_other\":0,\"risks\":[],\"health\":{\"ports\":[{\"name\":" \
	"\"lan\",\"up\":true,\"received\":30,\"sent\":29,\"kernel_drops\":2,\"interface_drops\":1,\"se" \
	"nd_errors\":0}],\"frames\":30,\"not_tracked\":{},\"flows_active\":1,\"evictions\":0,\"dpi_" \
	"given_up\":0,\"spool\":{\"records\":4,\"bytes\":900,\"dropped\":0},\"bundle\":{\"serial\":42}" \
	"}}}}"

#define SOC_FX_ALERT \
	"{\"@timestamp\":\"2026-12-03T10:00:40.051Z\",\"ecs\":{\"version\":\"8.11.0\"},\"event\":{\"ki" \
	"nd\":\"alert\",\"dataset\":\"townguard.alert\",\"id\":\"bbc9cb27e183ff836e7e5cead110a88a\"," \
	"\"action\":\"first_hit\",\"category\":[\"network\"],\"type\":[\"denied\",\"indicator\"]},\"obse" \
	"rver\":{\"id\":\"gw-a\",\"name\":\"gw-a\",\"version\":\"0.1.0\"},\"organization\":{\"id\":\"north\"" \
	"},\"labels\":{\"tlp\":\"amber\"},\"rule\":{\"id\":\"7\"},\"tg\":{\"seq\":2,\"replayed\":false,\"ale" \
	"rt\":{\"type\":\"first_hit\",\"suppressed\":0,\"action\":\"block\",\"stage\":\"dns\",\"indicator" \
	"\":\"evil.example\",\"bundle\":{\"serial\":42}}},\"source\":{\"address\":\"ip-9d68b72ab6ac" \
	"\",\"port\":44639},\"destination\":{\"ip\":\"192.0.2.7\",\"port\":53},\"network\":{\"tra" \
	"nsport\":\"udp\"}}"

#define SOC_FX_ASSET \
	"{\"@timestamp\":\"2026-12-03T10:01:00.000Z\",\"ecs\":{\"version\":\"8.11.0\"},\"event\":{\"ki" \
	"nd\":\"asset\",\"dataset\":\"townguard.asset\",\"id\":\"0123456789abcdef0123456789abcdef\"," \
	"\"action\":\"change\",\"category\":[\"host\"],\"type\":[\"creation\"]},\"observer\":{\"id\":\"gw-" \
	"a\",\"name\":\"gw-a\",\"version\":\"0.1.0\"},\"organization\":{\"id\":\"north\"},\"labels\":{\"tlp" \
	"\":\"amber\"},\"host\":{\"mac\":\"mac-0123456789ab\",\"id\":\"ip-0123456789ab\"" \
	",\"hostname\":\"host-0123456789ab\"},\"device\":{\"manufacturer\":\"Apple, Inc." \
	"\"},\"tg\":{\"seq\":3,\"replayed\":false,\"asset\":{\"first_seen\":\"2026-12-03T10:00:10.000" \
	"Z\",\"last_seen\":\"2026-12-03T10:00:50.000Z\",\"local_mac\":false,\"addresses\":[{\"id\":\"" \
	"ip-0123456789ab\",\"first_seen\":\"2026-12-03T10:00:10.000Z\",\"last_seen\":\"20" \
	"26-12-03T10:00:50.000Z\"}]}}}"

#endif

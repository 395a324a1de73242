# townguard: one non-recursive Makefile for the firmware, host tools, tests,
# benchmarks and fuzzers. `make help` lists the targets.
#
# Kconfig is driven by Debian's python3-kconfiglib, run with /usr/bin/python3
# because another python3 may come first on PATH without the module.

.DEFAULT_GOAL := all
SHELL := /bin/bash

PYTHON := /usr/bin/python3
KCONFIGLIB := /usr/lib/python3/dist-packages
# The configuration file; another one (KCONFIG_CONFIG=build/<board>/.config)
# builds a second board beside the tree's own (the image tests do).
KCONFIG_CONFIG ?= .config
export KCONFIG_CONFIG

V ?= 0
Q := $(if $(filter 1,$(V)),,@)

# ---------------------------------------------------------------- configuration
-include $(KCONFIG_CONFIG)
BOARD := $(patsubst "%",%,$(or $(CONFIG_BOARD),"host"))

# The host board builds in build/ (build/san with sanitizers); any other board
# in build/<board>/, where `make image` puts its image too.
SAN ?= 0
ifeq ($(SAN),1)
O ?= build/san
else ifneq ($(BOARD),host)
O ?= build/$(BOARD)
else
O ?= build
endif
AUTOCONF := $(O)/include/generated/autoconf.h

KCONFIGS := $(wildcard */Kconfig */*/Kconfig)

# A tree without .config builds the host board's defaults; a Kconfig file
# newer than .config brings it up to date (new symbols take their defaults),
# and make restarts with the new values.
$(KCONFIG_CONFIG): Kconfig $(KCONFIGS)
	$(Q)if [ -f $@ ]; then \
		echo "  CONFIG  Kconfig changed: make olddefconfig"; \
		$(PYTHON) $(KCONFIGLIB)/olddefconfig.py Kconfig >/dev/null && touch $@; \
	else \
		echo "  CONFIG  no .config: using board/host/defconfig (make <board>_defconfig to choose)"; \
		$(PYTHON) $(KCONFIGLIB)/defconfig.py --kconfig Kconfig board/host/defconfig >/dev/null; \
	fi

%_defconfig: board/%/defconfig
	$(Q)mkdir -p $(dir $(KCONFIG_CONFIG))
	$(Q)$(PYTHON) $(KCONFIGLIB)/defconfig.py --kconfig Kconfig $<

menuconfig:
	$(Q)$(PYTHON) $(KCONFIGLIB)/menuconfig.py Kconfig

olddefconfig:
	$(Q)$(PYTHON) $(KCONFIGLIB)/olddefconfig.py Kconfig

savedefconfig: $(KCONFIG_CONFIG)
	$(Q)$(PYTHON) $(KCONFIGLIB)/savedefconfig.py --kconfig Kconfig --out $(O)/defconfig
	@echo "  wrote $(O)/defconfig"

$(AUTOCONF): $(KCONFIG_CONFIG) Kconfig $(KCONFIGS)
	@mkdir -p $(dir $@)
	$(Q)$(PYTHON) $(KCONFIGLIB)/genconfig.py --header-path $@ Kconfig

# ---------------------------------------------------------------- flags
CC ?= cc
# A cross build (the arm64 boards: CONFIG_CROSS_COMPILE, CONFIG_SYSROOT, or the
# same on the command line): the compiler and pkg-config look only in the
# sysroot, so no host header or library leaks into the target's binary.
CROSS_COMPILE ?= $(patsubst "%",%,$(CONFIG_CROSS_COMPILE))
SYSROOT ?= $(patsubst "%",%,$(CONFIG_SYSROOT))
ifneq ($(CROSS_COMPILE),)
CC := $(CROSS_COMPILE)gcc
ifneq ($(SYSROOT),)
TRIPLET := $(shell $(CC) -dumpmachine)
export PKG_CONFIG_SYSROOT_DIR := $(SYSROOT)
export PKG_CONFIG_LIBDIR := $(SYSROOT)/usr/lib/$(TRIPLET)/pkgconfig:$(SYSROOT)/usr/share/pkgconfig
CFLAGS += --sysroot=$(SYSROOT)
LDFLAGS += --sysroot=$(SYSROOT)
endif
endif
PKGS := libndpi libpcap jansson inih libnl-3.0 libnl-route-3.0 libnl-nf-3.0 libzstd
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla -Wpointer-arith -Wundef
CPPFLAGS += -D_GNU_SOURCE -Ifirmware -Idrivers -Itools -Iboard/$(BOARD) -I$(O)/include
CFLAGS += -std=gnu11 -O2 -g $(WARN) -MMD -MP
LDLIBS += $(shell pkg-config --libs $(PKGS)) -lmbedtls -lmbedx509 -lmbedcrypto -lcrypt
ifeq ($(SAN),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CPPFLAGS += -DTG_SANITIZE=1
LDFLAGS += -fsanitize=address,undefined
endif

# nDPI headers are only for firmware/packet/dpi.c, libnl's only for drivers/ (see ARCHITECTURE.md).
$(O)/obj/firmware/packet/dpi.o: CPPFLAGS += $(shell pkg-config --cflags libndpi)
$(O)/obj/drivers/link.o $(patsubst %.c,$(O)/obj/%.o,$(wildcard drivers/nfq*.c)): CPPFLAGS += $(shell pkg-config --cflags libnl-3.0)

# ---------------------------------------------------------------- sources
# One folder per layer of ARCHITECTURE.md (docs/layout.md); every .c in them is firmware.
FW_SRCS := $(filter-out firmware/app/main.c,$(wildcard firmware/*/*.c))
DRV_SRCS := drivers/port.c drivers/inline.c drivers/link.c drivers/capfile.c drivers/tty.c drivers/power.c drivers/watchdog.c $(if $(filter y,$(CONFIG_DRIVER_PCAP)),drivers/pcap.c) \
	$(if $(filter y,$(CONFIG_DRIVER_AFPACKET)),drivers/afpacket.c) \
	$(if $(filter y,$(CONFIG_DRIVER_NFQUEUE)),$(wildcard drivers/nfq*.c))
BOARD_SRCS := board/$(BOARD)/board.c
CORE_OBJS := $(patsubst %.c,$(O)/obj/%.o,$(FW_SRCS) $(DRV_SRCS) $(BOARD_SRCS))

# ---------------------------------------------------------------- lwIP (management stack)
# lwIP 2.1.3 from Debian's source package, unpacked (never committed) by
# tools/install-deps into LWIP_DIR and built here with drivers/lwip/lwipopts.h
# (docs/building.md). lwIP's own files get relaxed warnings: third-party code,
# never edited. drivers/lwip keeps the full set, with lwIP's headers on its
# include path; nothing else sees them (ARCHITECTURE.md).
LWIP_DIR ?= /usr/local/src/townguard/lwip-2.1.3
LWIP_SRCS := $(addprefix core/,init.c def.c dns.c inet_chksum.c ip.c mem.c memp.c netif.c pbuf.c \
		stats.c sys.c raw.c tcp.c tcp_in.c tcp_out.c timeouts.c udp.c altcp.c altcp_alloc.c altcp_tcp.c) \
	$(addprefix core/ipv4/,dhcp.c etharp.c icmp.c ip4.c ip4_addr.c ip4_frag.c) \
	netif/ethernet.c apps/mqtt/mqtt.c apps/sntp/sntp.c \
	apps/altcp_tls/altcp_tls_mbedtls.c
LWIP_INC := -Idrivers/lwip -I$(LWIP_DIR)/src/include
LWIP_CFLAGS := $(filter-out $(WARN),$(CFLAGS)) -Wall
MGMT_SRCS := drivers/lwip/mgmt.c drivers/lwip/mgmt_ping.c drivers/lwip/sys_arch.c drivers/lwip/tls_mem.c
MGMT_OBJS := $(patsubst %.c,$(O)/obj/%.o,$(MGMT_SRCS))
LWIP_OBJS := $(patsubst %.c,$(O)/obj/lwip/%.o,$(LWIP_SRCS)) $(MGMT_OBJS)
CORE_OBJS += $(LWIP_OBJS)
# The firmware includes "mgmt.h", the lwIP-free interface; lwIP's headers stay off its path.
CPPFLAGS += -Idrivers/lwip

$(O)/obj/lwip/%.o: $(LWIP_DIR)/src/%.c $(AUTOCONF)
	@mkdir -p $(dir $@)
	@echo "  CC      lwip/$*.c"
	$(Q)$(CC) -D_GNU_SOURCE -I$(O)/include $(LWIP_INC) $(LWIP_CFLAGS) -c $< -o $@

# lwIP 2.1.3 predates mbedTLS 2.28's deprecations (net.h, max_frag_len) and
# ignores mbedtls_ssl_flush_output()'s result on purpose (it retries on the
# next sent/poll callback): known, harmless, and not ours to edit.
$(O)/obj/lwip/apps/altcp_tls/altcp_tls_mbedtls.o: LWIP_CFLAGS += -Wno-cpp -Wno-deprecated-declarations \
	-Wno-unused-result

$(MGMT_OBJS) $(O)/obj/firmware/hub/uplink.o: CPPFLAGS += $(LWIP_INC)
# TLS memory in place of lwIP's example allocator (drivers/lwip/tls_mem.c).
$(O)/obj/drivers/lwip/tls_mem.o: CPPFLAGS += -I$(LWIP_DIR)/src/apps/altcp_tls

# Without the tree, whatever needs it stops with the remedy, not "No rule to make target".
ifeq ($(wildcard $(LWIP_DIR)/src/include/lwip/opt.h),)
$(LWIP_OBJS) check: lwip-missing
lwip-missing:
	@echo "error: no lwIP source in $(LWIP_DIR): run tools/install-deps" \
		"(or make LWIP_DIR=<unpacked lwip-2.1.3>)" >&2
	@exit 1
.PHONY: lwip-missing
endif

# The management stack against a live interface (tests/integration/mgmt_lwip.sh).
MGMT_PROBE := $(O)/tests/mgmt_probe
$(MGMT_PROBE): $(O)/obj/tests/lwip/mgmt_probe.o $(LWIP_OBJS) $(O)/obj/firmware/core/loop.o \
		$(O)/obj/firmware/core/log.o $(O)/obj/drivers/port.o $(O)/obj/drivers/pcap.o
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libpcap) -lmbedtls -lmbedx509 -lmbedcrypto
# The reports' way out over the real uplink (tests/integration/report_spool.sh).
REPORT_PROBE := $(O)/tests/report_probe
$(REPORT_PROBE): $(O)/obj/tests/lwip/report_probe.o $(CORE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
ifeq ($(CONFIG_DRIVER_PCAP),y)
all: $(MGMT_PROBE) $(REPORT_PROBE)
endif

# `make check` analyses our lwIP glue with lwIP's headers, never lwIP's sources.
check: CHECK_SRCS += $(MGMT_SRCS) tests/lwip/mgmt_probe.c tests/lwip/report_probe.c
check: CPPFLAGS += $(LWIP_INC) -I$(LWIP_DIR)/src/apps/altcp_tls
check: CPPFLAGS += $(shell pkg-config --cflags libpq)

$(O)/obj/%.o: %.c $(AUTOCONF)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# Objects are linked directly (not through an archive) so that drivers
# registered in the tg_port_drivers section are always kept.
$(O)/townguard: $(O)/obj/firmware/app/main.o $(CORE_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The bundle code tg-hub and the bundle benchmark share with the firmware (one
# encoder for hub and gateway), and what else tg-hub links of it.
BUNDLE_OBJS := $(patsubst %.c,$(O)/obj/%.o,$(wildcard firmware/policy/bundle*.c) firmware/core/siphash.c)
HUB_FW_OBJS := $(BUNDLE_OBJS) $(O)/obj/firmware/hub/cmd.o $(O)/obj/firmware/core/file.o
# The hub's feed parsers (tools/feeds*.c: the line formats, STIX, the value checks).
FEEDS_OBJS := $(patsubst %.c,$(O)/obj/%.o,$(wildcard tools/feeds*.c))
HOST_TOOLS := $(O)/tg-pcapgen $(if $(wildcard tools/tg-hub/main.c),$(O)/tg-hub)
# The host tools run on the build machine: a cross build makes the firmware only.
ifneq ($(CROSS_COMPILE),)
HOST_TOOLS :=
endif
# tg-hub shares the firmware's bundle code (one encoder for hub and gateway).
$(O)/tg-hub: $(patsubst %.c,$(O)/obj/%.o,$(wildcard tools/tg-hub/*.c)) \
		$(FEEDS_OBJS) $(O)/obj/tools/hub_pki.o $(O)/obj/tools/hub_mqtt.o $(HUB_FW_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs jansson libmosquitto) -lmbedx509 -lmbedcrypto

# tg-soc (docs/tg-soc.md): the SOC's collector. It reads its command lines with
# tg-hub's option parser, decodes with the firmware's batch code, and checks
# records against the schemas of docs/reports.md, embedded at build time
# (tools/tg-soc/mk-schemas: the one source, as tests/report_schema.py reads it).
SOC_SCHEMAS := $(O)/gen/tg-soc/schemas.c
$(SOC_SCHEMAS): docs/reports.md tools/tg-soc/mk-schemas
	@mkdir -p $(dir $@)
	@echo "  SCHEMAS $@"
	$(Q)$(PYTHON) tools/tg-soc/mk-schemas $< $@
$(O)/obj/gen/tg-soc/schemas.o: $(SOC_SCHEMAS) $(AUTOCONF)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
$(O)/obj/tools/tg-soc/store_pg.o: CPPFLAGS += $(shell pkg-config --cflags libpq)
# Everything of tg-soc but main(): the unit tests and the benchmark link it too.
SOC_OWN_OBJS := $(patsubst %.c,$(O)/obj/%.o,$(filter-out tools/tg-soc/main.c,$(wildcard tools/tg-soc/*.c))) \
	$(O)/obj/gen/tg-soc/schemas.o $(O)/obj/tools/tg-hub/opts.o $(O)/obj/tools/tg-hub/common.o
SOC_OBJS := $(SOC_OWN_OBJS) $(O)/obj/firmware/report/batch.o $(O)/obj/firmware/report/records_dict.o $(O)/obj/firmware/report/journal.o $(O)/obj/firmware/report/spool.o \
	$(O)/obj/firmware/report/spool_format.o $(O)/obj/firmware/core/log.o $(BUNDLE_OBJS) \
	$(O)/obj/firmware/core/file.o $(O)/obj/firmware/core/crc32c.o $(O)/obj/firmware/report/record.o \
	$(O)/obj/firmware/core/config.o $(O)/obj/firmware/core/config_keys.o
SOC_LIBS := $(shell pkg-config --libs jansson libmosquitto libzstd sqlite3 libpq inih) -lmbedcrypto
$(O)/tg-soc: $(O)/obj/tools/tg-soc/main.o $(SOC_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(SOC_LIBS)
HOST_TOOLS += $(if $(wildcard tools/tg-soc/main.c),$(O)/tg-soc)

$(O)/tg-pcapgen: $(patsubst %.c,$(O)/obj/%.o,$(wildcard tools/tg-pcapgen/*.c))
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libpcap)

# The records' zstd dictionary, built in with .incbin (tools/mk-report-dict makes it).
$(O)/obj/firmware/report/records_dict.o: firmware/report/records-v1.zdict firmware/report/records-v2.zdict

# The device makers by MAC prefix ([report] oui_file), from Debian's ieee-data (tools/mk-oui).
OUI_CSV ?= /usr/share/ieee-data/oui.csv
$(O)/oui.bin: tools/mk-oui $(wildcard $(OUI_CSV))
	@mkdir -p $(dir $@)
	@echo "  OUI     $@"
	$(Q)$(PYTHON) tools/mk-oui $(OUI_CSV) $@ >/dev/null

# The message catalogues (firmware/core/i18n.h): po/<lang>.po to
# $(O)/locale/<lang>/LC_MESSAGES/townguard.mo, checked by msgfmt (header,
# printf formats). An image installs $(O)/locale as CONFIG_LOCALE_DIR;
# TOWNGUARD_LOCALEDIR=$(O)/locale runs a build tree in its languages.
PO_FILES := $(wildcard po/*.po)
MO_FILES := $(patsubst po/%.po,$(O)/locale/%/LC_MESSAGES/townguard.mo,$(PO_FILES))
$(O)/locale/%/LC_MESSAGES/townguard.mo: po/%.po
	@mkdir -p $(dir $@)
	@echo "  MSGFMT  $@"
	$(Q)msgfmt --check -o $@ $<

# After adding or changing a _() message: the .pot from the sources, merged into every .po.
po-update:
	$(Q)tools/check-po --update

all: $(O)/townguard $(HOST_TOOLS) $(O)/oui.bin $(MO_FILES)

# ---------------------------------------------------------------- tests
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))

$(O)/tests/%: $(O)/obj/tests/unit/%.o $(CORE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# The feed parsers are host-tool code (tools/), not a firmware object.
$(O)/tests/test_feeds: $(FEEDS_OBJS)
# ... and so is tg-hub's option parser.
$(O)/tests/test_hub_opts: $(O)/obj/tools/tg-hub/opts.o $(O)/obj/tools/tg-hub/common.o
# ... and tg-soc (the firmware objects it links are in CORE_OBJS already).
$(O)/tests/test_soc_schema $(O)/tests/test_soc_store: $(SOC_OWN_OBJS)
$(O)/tests/test_soc_schema $(O)/tests/test_soc_store: LDLIBS += $(SOC_LIBS)

# `make test`: unit tests, then the capture-based and namespace tests.
# tests/run prints one line per test and "N passed, N failed" at the end.
test: all $(UNIT_BINS) $(MO_FILES) test-images
	$(Q)BUILD=$(O) SAN=$(SAN) tests/run $(UNIT_BINS)

# ---------------------------------------------------------------- analysis
# The runtime key table (firmware/core/config_keys.c) states every range once;
# the Kconfig symbols its defaults come from must say the same before it is
# compiled. `make check` also looks for Kconfig symbols nothing reads.
$(O)/kconfig-ranges.ok: tools/check-kconfig firmware/core/config_keys.c Kconfig $(KCONFIGS)
	@mkdir -p $(dir $@)
	@echo "  CHECK   Kconfig ranges"
	$(Q)$(PYTHON) tools/check-kconfig --ranges && touch $@
$(O)/obj/firmware/core/config_keys.o: $(O)/kconfig-ranges.ok

CHECK_SRCS := $(wildcard firmware/*/*.c drivers/*.c board/*/*.c tools/*.c tools/*/*.c)
check: $(AUTOCONF)
	@echo "  LAYERS"
	$(Q)$(PYTHON) tools/check-layers
	@echo "  KCONFIG"
	$(Q)$(PYTHON) tools/check-kconfig
	@echo "  PO      every message translated, formats matching (tools/check-po)"
	$(Q)tools/check-po
	@echo "  CPPCHECK"
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --std=c11 -D__GNUC__ -DCONFIG_DRIVER_PCAP=1 --suppress=missingIncludeSystem \
		$(CPPFLAGS) $(CHECK_SRCS)
	@echo "  TIDY"
	$(Q)clang-tidy --quiet --warnings-as-errors='*' $(CHECK_SRCS) -- \
		$(CPPFLAGS) $(shell pkg-config --cflags libndpi libnl-3.0) -std=gnu11 2>&1 \
		| { grep -v '^[0-9]* warnings\? generated' || true; }; exit $${PIPESTATUS[0]}

# ---------------------------------------------------------------- fuzz
FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_O := build/fuzz
FUZZ_CFLAGS := -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
	-D_GNU_SOURCE -Ifirmware -Idrivers -Idrivers/lwip -Iboard/$(BOARD) -I$(O)/include
FUZZ_CORE := $(filter-out firmware/app/gateway%.c firmware/app/main.c firmware/app/status.c firmware/hub/uplink.c firmware/report/wire.c drivers/% board/%,$(FW_SRCS))
# The console's information commands reach the gateway only when there is one: stubs that abort.
FUZZ_CORE += tests/fuzz/no_gateway.c

$(FUZZ_O)/%: tests/fuzz/%.c $(FUZZ_CORE) $(AUTOCONF)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	$(Q)clang $(FUZZ_CFLAGS) $(shell pkg-config --cflags libndpi) -o $@ $< $(FUZZ_CORE) $(LDLIBS)

# Feed parsers live in tools/ (the hub's side); their targets link only them
# and the bundle's name rule they apply (bundle_format.c, which hashes with SipHash).
FUZZ_FEED_SRCS := $(wildcard tools/feeds*.c) firmware/policy/bundle_format.c firmware/core/siphash.c
$(FUZZ_O)/fuzz_feed_%: tests/fuzz/fuzz_feed_%.c tests/fuzz/fuzz_feed_text.c $(FUZZ_FEED_SRCS) \
		$(wildcard tools/feeds*.h) firmware/policy/bundle.h firmware/policy/bundle_priv.h
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	$(Q)clang $(FUZZ_CFLAGS) -Itools -o $@ $< $(FUZZ_FEED_SRCS) $(shell pkg-config --libs jansson)

# tg-soc's intake (tools/tg-soc/): the decoder and the validator, with the schemas embedded.
FUZZ_SOC_SRCS := $(addprefix tools/tg-soc/,intake.c schema.c util.c store.c store_query.c store_sqlite.c \
	store_pg.c)
$(FUZZ_O)/fuzz_soc_intake: tests/fuzz/fuzz_soc_intake.c $(FUZZ_CORE) $(FUZZ_SOC_SRCS) $(SOC_SCHEMAS) $(AUTOCONF)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	$(Q)clang $(FUZZ_CFLAGS) -Itools $(shell pkg-config --cflags libndpi libpq) -o $@ $< $(FUZZ_CORE) \
		$(FUZZ_SOC_SRCS) $(SOC_SCHEMAS) $(LDLIBS) $(SOC_LIBS)

# tg-soc's export formats over records from outside (export --from).
$(FUZZ_O)/fuzz_soc_export: tests/fuzz/fuzz_soc_export.c tools/tg-soc/export.c tools/tg-soc/util.c \
		tools/tg-soc/export.h $(AUTOCONF)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	$(Q)clang $(FUZZ_CFLAGS) -Itools -o $@ $< tools/tg-soc/export.c tools/tg-soc/util.c \
		$(shell pkg-config --libs jansson)

fuzz-build: $(patsubst tests/fuzz/%.c,$(FUZZ_O)/%,$(FUZZ_SRCS))

# The corpus is seeded from a tg-pcapgen capture and tg-hub bundles.
fuzz: fuzz-build $(HOST_TOOLS)
	$(Q)BUILD=$(abspath $(O)) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run $(patsubst tests/fuzz/%.c,$(FUZZ_O)/%,$(FUZZ_SRCS))

# ---------------------------------------------------------------- bench, demo
# The bare libpcap read loop that bounds any pcap reader (docs/benchmarks.md).
$(O)/bench/pcap-loop: tests/bench/pcap_loop.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(filter-out -MMD -MP,$(CFLAGS)) $(shell pkg-config --cflags libpcap) $(LDFLAGS) \
		-o $@ $< $(shell pkg-config --libs libpcap)

# Blocklist benchmark: the gateway's bundle load and lookups (the firmware's
# bundle code), and nDPI's own host-list matching on the same names as anchor.
$(O)/bench/bundle-bench: tests/bench/bundle_bench.c tests/bench/bench_util.h firmware/policy/bundle.h \
		$(BUNDLE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(filter-out -MMD -MP,$(CFLAGS)) $(LDFLAGS) -o $@ $< \
		$(BUNDLE_OBJS) -lmbedcrypto

$(O)/bench/ndpi-hosts-bench: tests/bench/ndpi_hosts_bench.c tests/bench/bench_util.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(filter-out -MMD -MP,$(CFLAGS)) $(shell pkg-config --cflags libndpi libnl-3.0) $(LDFLAGS) \
		-o $@ $< $(shell pkg-config --libs libndpi)

# Re-judging the open flows on a swap: the firmware's flow table and policy, linked whole.
$(O)/bench/rejudge-bench: $(O)/obj/tests/bench/rejudge_bench.o $(CORE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Spool recovery: the firmware's spool reader over a full spool (docs/benchmarks.md).
$(O)/bench/spool-bench: $(O)/obj/tests/bench/spool_bench.o $(CORE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Report bytes on the wire: the firmware's batch encoder over replay's records (docs/benchmarks.md).
$(O)/bench/report-bench: $(O)/obj/tests/bench/report_bench.o $(CORE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The SOC's store under load: tg-soc's store over synthetic records (docs/benchmarks.md).
$(O)/bench/soc-bench: $(O)/obj/tests/bench/soc_bench.o $(SOC_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(SOC_LIBS)

bench: all test-images $(O)/bench/pcap-loop $(O)/bench/bundle-bench $(O)/bench/ndpi-hosts-bench $(O)/bench/rejudge-bench \
		$(O)/bench/spool-bench \
		$(O)/bench/report-bench \
		$(O)/bench/soc-bench
	$(Q)BUILD=$(O) tests/bench/run
# Part 10 (tests/bench/arm64_bench) runs the arm64 images' firmware and boots one.
bench: test-images

# ---------------------------------------------------------------- images
# `make <board>_defconfig && make image`: the board's image in build/<board>/
# (tools/mkimage, board/<board>/image.conf, docs/boards.md); `make boot` starts
# it in QEMU with the console on stdio. The kernel and busybox-static come
# from tools/install-deps' cache; nothing is fetched here.
# A cross-built firmware's libraries come from the sysroot, listed by its own
# loader under qemu-user (tools/cross-ldd).
IMAGE_LIBS := $(if $(CROSS_COMPILE),LIB_ROOT=$(SYSROOT) LDD="tools/cross-ldd $(SYSROOT)")
image: $(O)/townguard $(O)/oui.bin
	$(Q)if [ ! -f board/$(BOARD)/image.conf ]; then \
		echo "error: board $(BOARD) has no image (board/$(BOARD)/image.conf): make <board>_defconfig first" >&2; \
		exit 1; fi
	$(Q)DATA_DIR=$(CONFIG_DATA_DIR) OUI_BIN=$(O)/oui.bin $(IMAGE_LIBS) tools/mkimage $(BOARD) $(O) $(O)/townguard
	$(Q)if grep -q '^BOOT_START_MB=' board/$(BOARD)/image.conf; then tools/mksdcard $(O); fi

boot: image
	$(Q)tools/qemu-run $(O) $(BOOT_ARGS)

# The images the tests boot (tests/image), each built beside the tree's own
# configuration; `make test` builds them first.
TEST_IMAGES := qemu-x86_64
TEST_IMAGES += qemu-arm64
TEST_IMAGES += nanopi-r4s
test-images:
	$(Q)for b in $(TEST_IMAGES); do \
		$(MAKE) --no-print-directory KCONFIG_CONFIG=build/$$b/.config O=build/$$b SAN=0 $${b}_defconfig && \
		$(MAKE) --no-print-directory KCONFIG_CONFIG=build/$$b/.config O=build/$$b SAN=0 image || exit 1; \
	done

# Fifty power cuts of the x86_64 image instead of make test's ten (tests/integration/image_powercut.sh).
soak-image: all test-images
	$(Q)BUILD=$(O) TOP=$(CURDIR) CUTS=50 tests/integration/image_powercut.sh

# `make soak`: tests/soak/soak.sh for SOAK_SECONDS (default 600) in each inline mode.
soak: all
	$(Q)for m in bridge nfqueue; do BUILD=$(O) TOP=$(CURDIR) SAN=$(SAN) MODE=$$m tests/soak/soak.sh || exit 1; done

run: all
	$(Q)BUILD=$(O) tools/demo

clean:
	rm -rf build

distclean: clean
	rm -f .config .config.old

help:
	@echo "make host_defconfig  configure for board/host (any Linux machine)"
	@echo "make menuconfig      edit the configuration"
	@echo "make olddefconfig    update .config after Kconfig changes"
	@echo "make                 build build/townguard and the host tools"
	@echo "make run             generate a demo capture and replay it"
	@echo "make test            unit, conformance and lab tests (SAN=1: ASan+UBSan)"
	@echo "make soak             10 minutes per inline mode of mixed traffic and garbage"
	@echo "make <board>_defconfig && make image   a board's image in build/<board>/ (docs/boards.md)"
	@echo "make boot            boot that image in QEMU, console on stdio"
	@echo "make soak-image      fifty power cuts of the x86_64 image"
	@echo "make po-update       after a new _() message: po/townguard.pot and po/*.po merged"
	@echo "make check           the layer rule (tools/check-layers), cppcheck and clang-tidy"
	@echo "make bench           benchmarks against ndpiReader and a bare libpcap loop"
	@echo "make fuzz            libFuzzer targets, FUZZ_SECONDS each (default 60)"

.PHONY: image boot test-images soak-image
.PHONY: po-update all test check fuzz fuzz-build bench soak run clean distclean help menuconfig olddefconfig savedefconfig
.SECONDARY:

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)

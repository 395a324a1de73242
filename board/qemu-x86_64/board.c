/*
 * Board "qemu-x86_64": the virtual x86_64 box of board/qemu-x86_64/image.conf
 * (QEMU pc, two virtio-net ports, the i6300esb watchdog, a virtio disk each for
 * the read-only root and the data partition). The kernel names the NICs in PCI
 * order: eth0 is the first -netdev (LAN), eth1 the second (WAN).
 */
#include "core/board.h"
#include "core/common.h"

static const struct board qemu_x86_64_board = {
	.name = CONFIG_BOARD,
	.description = "QEMU x86_64 (pc, virtio-net x2, i6300esb watchdog)",
	.lan_port = "eth0",
	.wan_port = "eth1",
	.mirror_port = "eth0",
	.console = "/dev/ttyS0",
	.console_speed = 115200,
	.data_dir = CONFIG_DATA_DIR,
	.data_dev = "/dev/vdb",
	.watchdog = "/dev/watchdog",
};

const struct board *board_info(void)
{
	return &qemu_x86_64_board;
}

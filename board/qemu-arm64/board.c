/*
 * Board "qemu-arm64": QEMU's virt machine with a cortex-a53 (board/qemu-arm64/
 * image.conf): two virtio-net ports, the PL011 UART as console, the i6300esb
 * watchdog on virt's PCIe bus (virt has no SoC watchdog), a virtio disk each for
 * the read-only root and the data partition. The kernel names the NICs in PCI
 * order: eth0 is the first -netdev (LAN), eth1 the second (WAN).
 */
#include "core/board.h"
#include "core/common.h"

static const struct board qemu_arm64_board = {
	.name = CONFIG_BOARD,
	.description = "QEMU arm64 (virt, cortex-a53, virtio-net x2, i6300esb watchdog)",
	.lan_port = "eth0",
	.wan_port = "eth1",
	.mirror_port = "eth0",
	.console = "/dev/ttyAMA0",
	.console_speed = 115200,
	.data_dir = CONFIG_DATA_DIR,
	.data_dev = "/dev/vdb",
	.watchdog = "/dev/watchdog",
};

const struct board *board_info(void)
{
	return &qemu_arm64_board;
}

/*
 * Board "nanopi-r4s": FriendlyElec NanoPi R4S (RK3399, 1 or 4 GB), booted from
 * microSD with Debian's arm64 kernel and its rockchip/rk3399-nanopi-r4s.dtb
 * (board/nanopi-r4s/image.conf has the card's layout). What the names are:
 *   WAN  the SoC's GMAC (ethernet@fe300000, dwmac-rk, RTL8211E PHY): eth0,
 *        because the init loads dwmac-rk before r8169;
 *   LAN  the RTL8111H on the SoC's single PCIe lane (r8169): eth1;
 *   console  UART2 (serial@ff1a0000, 8250_dw: ttyS2), the dtb's stdout-path
 *        "serial2:1500000n8": 1500000 baud, as the boot loader leaves it;
 *   watchdog  the SoC's DesignWare watchdog (watchdog@ff848000, dw_wdt);
 *   data  the card's third partition (mmc@fe320000 is mmc1 in the dtb's aliases).
 * LEDs (green:lan, green:wan, red:power) are in the dtb; nothing drives them yet.
 */
#include "core/board.h"
#include "core/common.h"

static const struct board nanopi_r4s_board = {
	.name = CONFIG_BOARD,
	.description = "FriendlyElec NanoPi R4S (RK3399; WAN GMAC, LAN RTL8111H)",
	.lan_port = "eth1",
	.wan_port = "eth0",
	.mirror_port = "eth1",
	.console = "/dev/ttyS2",
	.console_speed = 1500000,
	.data_dir = CONFIG_DATA_DIR,
	.data_dev = "/dev/mmcblk1p3",
	.watchdog = "/dev/watchdog",
};

const struct board *board_info(void)
{
	return &nanopi_r4s_board;
}

/*
 * Board "host": any Linux machine. Ports are ordinary interface names chosen
 * in the runtime configuration; the defaults below are the names the test lab
 * (tests/lab) gives its veth ends. No watchdog; the console is the terminal.
 */
#include "core/board.h"
#include "core/common.h"

static const struct board host_board = {
	.name = CONFIG_BOARD,
	.description = "generic Linux host (tests, benchmarks, development)",
	.lan_port = "tg-lan",
	.wan_port = "tg-wan",
	.mirror_port = "tg-mirror",
	.console = NULL,
	.data_dir = CONFIG_DATA_DIR,
	.watchdog = NULL,
};

const struct board *board_info(void)
{
	return &host_board;
}

/*
 * What a board tells the firmware about itself. Each board/<name>/board.c
 * defines board_info(); CONFIG_BOARD picks which one is built in.
 */
#ifndef TG_BOARD_H
#define TG_BOARD_H

struct board {
	const char *name;        /* CONFIG_BOARD */
	const char *description;
	const char *lan_port;    /* inline modes: port facing the office LAN */
	const char *wan_port;    /* inline modes: port facing the ISP router */
	const char *mirror_port; /* monitor mode: the mirror/SPAN port */
	const char *console;     /* technician's serial console device ([console] device overrides), NULL = none */
	unsigned int console_speed; /* its baud rate: [console] speed's default (0: 115200) */
	const char *data_dir;    /* runtime config, bundles, spool, keys */
	const char *data_dev;    /* the block device mounted on data_dir, NULL = none (host) */
	const char *watchdog;    /* hardware watchdog device, NULL = none */
	/*
	 * How the technician finds each port on the box, for the console's
	 * remedies ("port 2, the one marked WAN"), English (N_() in board.c;
	 * translated where printed). NULL = the port's name is all there is.
	 */
	const char *lan_label, *wan_label, *mirror_label;
};

const struct board *board_info(void);

#endif

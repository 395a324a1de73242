/*
 * Restarting the board (drivers/power.c): what the console's reboot does
 * after the firmware stopped, when CONFIG_CONSOLE_REBOOT is set.
 */
#ifndef TG_CORE_POWER_H
#define TG_CORE_POWER_H

/* Flush the filesystems and restart the board. Returns only on failure: -errno. */
int power_reboot(void);

#endif

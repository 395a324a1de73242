/* The board's restart (core/power.h): sync, then reboot(2). */
#include "core/power.h"

#include <errno.h>
#include <sys/reboot.h>
#include <unistd.h>

int power_reboot(void)
{
	sync();
	reboot(RB_AUTOBOOT);
	return -errno;
}

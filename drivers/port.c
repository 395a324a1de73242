/*
 * Port driver registry. Drivers place a pointer to their ops in the
 * tg_port_drivers linker section (PORT_DRIVER_REGISTER); the linker provides
 * __start_/__stop_ symbols for a section whose name is a C identifier, so
 * adding a driver is adding a file: nothing here lists them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOG_MODULE "port"
#include "core/log.h"
#include "core/port.h"

extern const struct port_ops *const __start_tg_port_drivers[] __attribute__((weak));
extern const struct port_ops *const __stop_tg_port_drivers[] __attribute__((weak));

const struct port_ops *port_driver_find(const char *name)
{
	/* The linker places both symbols around one section: the comparison is meaningful. */
	// cppcheck-suppress comparePointers
	for (const struct port_ops *const *o = __start_tg_port_drivers; o < __stop_tg_port_drivers; o++)
		if (strcmp((*o)->name, name) == 0)
			return *o;
	return NULL;
}

int port_open(struct port *port, const char *driver, const struct port_config *cfg)
{
	const struct port_ops *ops = port_driver_find(driver);
	int ret;

	memset(port, 0, sizeof(*port));
	if (!ops) {
		log_err("no port driver \"%s\" in this build", driver);
		return -ENOENT;
	}
	port->ops = ops;
	snprintf(port->name, sizeof(port->name), "%s", cfg->name);
	ret = ops->open(port, cfg);
	if (ret < 0)
		port->ops = NULL;
	return ret;
}

void port_close(struct port *port)
{
	if (port->ops)
		port->ops->close(port);
	port->ops = NULL;
}

/*
 * Inline driver registry (core/inline.h), the twin of port.c: drivers place
 * a pointer to their ops in the tg_inline_drivers linker section
 * (INLINE_DRIVER_REGISTER), so a build without one simply finds none.
 */
#include <errno.h>
#include <string.h>

#define LOG_MODULE "inline"
#include "core/inline.h"
#include "core/log.h"

extern const struct inline_ops *const __start_tg_inline_drivers[] __attribute__((weak));
extern const struct inline_ops *const __stop_tg_inline_drivers[] __attribute__((weak));

const struct inline_ops *inline_driver_find(const char *name)
{
	/* The linker places both symbols around one section: the comparison is meaningful. */
	// cppcheck-suppress comparePointers
	for (const struct inline_ops *const *o = __start_tg_inline_drivers; o < __stop_tg_inline_drivers;
	     o++)
		if (strcmp((*o)->name, name) == 0)
			return *o;
	return NULL;
}

int inline_open(struct inline_dev *dev, const char *driver, const struct inline_config *cfg)
{
	const struct inline_ops *ops = inline_driver_find(driver);
	int ret;

	memset(dev, 0, sizeof(*dev));
	if (!ops) {
		log_err("no inline driver \"%s\" in this build", driver);
		return -ENOENT;
	}
	dev->ops = ops;
	ret = ops->open(dev, cfg);
	if (ret < 0)
		dev->ops = NULL;
	return ret;
}

void inline_close(struct inline_dev *dev)
{
	if (dev->ops)
		dev->ops->close(dev);
	dev->ops = NULL;
	dev->priv = NULL;
}

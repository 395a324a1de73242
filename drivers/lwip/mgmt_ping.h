/*
 * What mgmt.c calls of mgmt_ping.c (the echo's own state): an answer or a
 * timeout waiting to be delivered, its delivery, and the end of the pcb at
 * mgmt_close(). Only drivers/lwip includes this.
 */
#ifndef TG_MGMT_PING_H
#define TG_MGMT_PING_H

#include <stdbool.h>

bool mgmt_ping_waiting(void);
void mgmt_ping_deliver(void);
void mgmt_ping_close(void);

#endif

/*
 * The zstd dictionary of the SOC records (batch.h, docs/reports.md "On the
 * wire"), records-v1.zdict beside this file, made by tools/mk-report-dict
 * from tg-pcapgen's office captures. Built into the firmware: every frame
 * of a message is compressed with it and names its ID, and batch_decode()
 * needs it to read them back.
 */
#include "report/batch.h"

/* The file's bytes, as they are (the assembler's .incbin; a path from the top of the tree). */
__asm__(".section .rodata\n"
	".balign 16\n"
	".globl tg_records_dict_v1\n"
	".type tg_records_dict_v1, %object\n"
	"tg_records_dict_v1:\n"
	".incbin \"firmware/report/records-v1.zdict\"\n"
	"tg_records_dict_v1_end:\n"
	".balign 4\n"
	".globl tg_records_dict_v1_size\n"
	".type tg_records_dict_v1_size, %object\n"
	"tg_records_dict_v1_size:\n"
	".long tg_records_dict_v1_end - tg_records_dict_v1\n"
	".previous\n");

extern const unsigned char tg_records_dict_v1[];
extern const uint32_t tg_records_dict_v1_size;

const void *batch_dict(uint32_t id, size_t *len)
{
	if (id != REPORT_DICT_ID)
		return NULL;
	*len = tg_records_dict_v1_size;
	return tg_records_dict_v1;
}

/*
 * The zstd dictionaries of the SOC records (batch.h, docs/reports.md "On
 * the wire"), records-v<N>.zdict beside this file, made by
 * tools/mk-report-dict from tg-pcapgen's office captures. Built into the
 * firmware: every frame is compressed with the newest (REPORT_DICT_ID) and
 * names its ID; batch_decode() reads frames of every version (frames made
 * by an older firmware wait in spools and stores).
 */
#include "report/batch.h"

/* A file's bytes, as they are (the assembler's .incbin; a path from the top of the tree). */
#define DICT_INCBIN(v)                                                   \
	__asm__(".section .rodata\n"                                      \
		".balign 16\n"                                            \
		".globl tg_records_dict_" #v "\n"                         \
		".type tg_records_dict_" #v ", %object\n"                 \
		"tg_records_dict_" #v ":\n"                               \
		".incbin \"firmware/report/records-" #v ".zdict\"\n"      \
		"tg_records_dict_" #v "_end:\n"                           \
		".balign 4\n"                                             \
		".globl tg_records_dict_" #v "_size\n"                    \
		".type tg_records_dict_" #v "_size, %object\n"            \
		"tg_records_dict_" #v "_size:\n"                          \
		".long tg_records_dict_" #v "_end - tg_records_dict_" #v "\n" \
		".previous\n");                                           \
	extern const unsigned char tg_records_dict_##v[];                \
	extern const uint32_t tg_records_dict_##v##_size

DICT_INCBIN(v1);
DICT_INCBIN(v2);

const void *batch_dict(uint32_t id, size_t *len)
{
	switch (id) {
	case REPORT_DICT_ID_V1:
		*len = tg_records_dict_v1_size;
		return tg_records_dict_v1;
	case REPORT_DICT_ID:
		*len = tg_records_dict_v2_size;
		return tg_records_dict_v2;
	default:
		return NULL;
	}
}

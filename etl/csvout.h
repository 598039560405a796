/*
 * csvout: writing RFC 4180 CSV meant for people and spreadsheets (reject
 * files, report exports). Writes to a caller-owned FILE; write errors are
 * left for the caller's fflush/fclose to report.
 */
#ifndef TMISGW_CSVOUT_H
#define TMISGW_CSVOUT_H

#include <stdio.h>

/* One cell, always quoted, then "," or, for the last cell, CRLF. A cell
 * starting with = + - @ TAB or CR gets a leading apostrophe, so a
 * spreadsheet never evaluates it (formula injection). */
void csv_put_cell(FILE *f, const char *s, int last);

#endif

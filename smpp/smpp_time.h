/*
 * SMPP 3.4 time fields (§7.1.1): schedule_delivery_time, validity_period,
 * final_date. Sixteen characters "YYMMDDhhmmsstnnp":
 *
 *   absolute  p '+' or '-': the local time of a zone nn quarter hours ahead
 *             of (+) or behind (-) UTC; t tenths of a second (ignored);
 *             YY is 2000 + YY
 *   relative  p 'R': YY years, MM months, DD days, hh:mm:ss from now
 *             (calendar arithmetic in UTC); t and nn are ignored
 *
 * or empty (the field is not set).
 */
#ifndef SMPP_TIME_H
#define SMPP_TIME_H

#include <time.h>

/* 0: s is empty (*at untouched); 1: *at is the time s names, in epoch
 * seconds (relative to now when relative); -1: s is not an SMPP time
 * (length, a non-digit, a field out of range, a date that does not exist). */
int smpp_time_parse(const char *s, time_t now, time_t *at);

#endif

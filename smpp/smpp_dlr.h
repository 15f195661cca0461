/*
 * SMPP 3.4 delivery receipts: the Appendix B text, the receipt TLVs, and the
 * message ids that tie a receipt to its submit_sm_resp.
 *
 *   id:IIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
 *   stat:DDDDDDD err:E text:...
 *
 * Appendix B is informative only, and carriers treat it that way, so the
 * parser is tolerant where being wrong costs nothing (key case, missing or
 * extra fields, 10- or 12-digit dates, spacing, "submit_date") and strict
 * where a guess would attach a receipt to the wrong message or give it the
 * wrong outcome: without a usable id and stat it returns an error, never a
 * default.
 *
 * Everything here is a pure function over caller memory: no allocation, no
 * I/O, no global state. Nothing keeps a pointer to its arguments.
 *
 * Only feed it the short_message of a deliver_sm (or data_sm) whose esm_class
 * says "SMSC delivery receipt": an MO text from a subscriber can spell
 * "id:1 stat:DELIVRD" too.
 */
#ifndef SMPP_DLR_H
#define SMPP_DLR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Longest message id: receipted_message_id is a C-Octet String of 65. */
#define SMPP_DLR_ID_MAX         64
/* Appendix B's text: "the first 20 characters of the short message". */
#define SMPP_DLR_TEXT_MAX       20
/* Longest err value kept (vendors send 3 digits, 1, 4, 8, hex...). */
#define SMPP_DLR_ERR_MAX        16
/* How much of the stat word is kept for logging an unknown one. */
#define SMPP_DLR_STAT_RAW_MAX   15
/* Largest sub, dlvrd and numeric err taken or written (9 digits). */
#define SMPP_DLR_NUM_MAX        999999999
/* A buffer this size always holds smpp_dlr_format()'s output and its NUL
 * (the worst case is 206 bytes; short_message holds 254). */
#define SMPP_DLR_FORMAT_MAX     208

/*
 * Errors: every function returns 0 (or a length) or one of these.
 * smpp_dlr_strerror() gives a fixed message for each.
 */
enum smpp_dlr_error {
    SMPP_DLR_OK          = 0,
    SMPP_DLR_EINVAL      = -1,  /* NULL argument, or a receipt that cannot be formatted */
    SMPP_DLR_EEMPTY      = -2,  /* receipt text empty (or only blanks/NULs) */
    SMPP_DLR_ENOTRECEIPT = -3,  /* text has none of the receipt keys */
    SMPP_DLR_ENOID       = -4,  /* no id field and no receipted_message_id */
    SMPP_DLR_EBADID      = -5,  /* id empty or not printable ASCII */
    SMPP_DLR_EIDLONG     = -6,  /* id longer than SMPP_DLR_ID_MAX */
    SMPP_DLR_ENOSTAT     = -7,  /* no stat field and no message_state */
    SMPP_DLR_EBADSTAT    = -8,  /* stat word is not one we know */
    SMPP_DLR_EBADSTATE   = -9,  /* message_state TLV outside 1..8 */
    SMPP_DLR_ENOSOURCE   = -10, /* neither receipt text nor receipt TLVs */
    SMPP_DLR_ENOSPACE    = -11, /* output buffer too small */
};

const char *smpp_dlr_strerror(int err);

/*
 * The final states of Appendix B's stat field. The values are the SMPP 3.4
 * message_state codes (5.2.28), so a stat and its message_state are the same
 * number; use the functions below rather than relying on it.
 */
enum smpp_dlr_stat {
    SMPP_DLR_STAT_NONE    = 0,  /* absent or not recognised */
    SMPP_DLR_STAT_ENROUTE = 1,
    SMPP_DLR_STAT_DELIVRD = 2,
    SMPP_DLR_STAT_EXPIRED = 3,
    SMPP_DLR_STAT_DELETED = 4,
    SMPP_DLR_STAT_UNDELIV = 5,
    SMPP_DLR_STAT_ACCEPTD = 6,
    SMPP_DLR_STAT_UNKNOWN = 7,
    SMPP_DLR_STAT_REJECTD = 8,
};

/* "DELIVRD" ...; NULL for SMPP_DLR_STAT_NONE or anything out of range. */
const char *smpp_dlr_stat_name(enum smpp_dlr_stat stat);

/*
 * The stat of a word, any case: the seven-letter Appendix B words and the
 * spec's long names some SMSCs send instead (DELIVERED, UNDELIVERABLE,
 * ACCEPTED, REJECTED). SMPP_DLR_STAT_NONE for anything else.
 */
enum smpp_dlr_stat smpp_dlr_stat_from_name(const char *word, size_t len);

/* message_state 1..8 to stat; SMPP_DLR_STAT_NONE for 0 and 9 and up. */
enum smpp_dlr_stat smpp_dlr_stat_from_state(unsigned message_state);

/* stat to message_state 1..8; 0 for SMPP_DLR_STAT_NONE or out of range. */
uint8_t smpp_dlr_stat_to_state(enum smpp_dlr_stat stat);

/* Bits of struct smpp_dlr's present, invalid, from_tlv and conflict. */
enum {
    SMPP_DLR_F_ID          = 1u << 0,
    SMPP_DLR_F_SUB         = 1u << 1,
    SMPP_DLR_F_DLVRD       = 1u << 2,
    SMPP_DLR_F_SUBMIT_DATE = 1u << 3,
    SMPP_DLR_F_DONE_DATE   = 1u << 4,
    SMPP_DLR_F_STAT        = 1u << 5,
    SMPP_DLR_F_ERR         = 1u << 6,
    SMPP_DLR_F_TEXT        = 1u << 7,
};

/*
 * A receipt date, UTC by convention (the spec gives no zone; SMSCs use
 * their own local time, which only the per-SMSC config can know).
 * YY is taken as 20YY.
 */
struct smpp_dlr_time {
    int  year;      /* 2000..2099 */
    int  mon;       /* 1..12 */
    int  mday;      /* 1..31, valid for the month */
    int  hour;      /* 0..23 */
    int  min;       /* 0..59 */
    int  sec;       /* 0..59; 0 when !has_sec */
    bool has_sec;   /* 12-digit YYMMDDhhmmss form (formatted back as such) */
};

/* Seconds since the epoch of t, read as UTC; -1 if t is not a valid date. */
time_t smpp_dlr_time_to_utc(const struct smpp_dlr_time *t);

/*
 * One receipt, as plain values. A field is usable only when its bit is in
 * present; otherwise it holds its "absent" value (-1, "", STAT_NONE).
 * Fields whose key appeared with an unusable value are in invalid instead
 * (a date of 11 digits, "sub:abc", an unknown stat word, a 65-char id).
 * When a key appears twice the first one counts.
 */
struct smpp_dlr {
    unsigned present;               /* SMPP_DLR_F_* */
    unsigned invalid;               /* SMPP_DLR_F_*: key seen, value unusable */
    unsigned from_tlv;              /* SMPP_DLR_F_*: value came from a TLV */
    unsigned conflict;              /* SMPP_DLR_F_*: text and TLV disagreed
                                     * (for id this is often only the form) */
    /* Why id / stat are unusable: 0, or ENOID / EBADID / EIDLONG,
     * ENOSTAT / EBADSTAT / EBADSTATE. */
    int      id_error;
    int      stat_error;

    char     id[SMPP_DLR_ID_MAX + 1];  /* as sent; printable ASCII */
    int      sub;                      /* -1 when absent */
    int      dlvrd;                    /* -1 when absent */
    struct smpp_dlr_time submit_date;
    struct smpp_dlr_time done_date;
    enum smpp_dlr_stat stat;
    char     stat_raw[SMPP_DLR_STAT_RAW_MAX + 1]; /* the word as sent (cut) */
    /* err: the decimal value when err_raw is 1..9 decimal digits, else -1
     * (absent, or a form such as "0B" that is kept only in err_raw). From
     * network_error_code, err is its 2-octet error and err_net_type its
     * first octet (-1 when err came from the text or is absent). */
    int      err;
    char     err_raw[SMPP_DLR_ERR_MAX + 1];
    int      err_net_type;
    /* text: raw bytes, possibly with NULs; text_len is authoritative. A NUL
     * always follows them. */
    char     text[SMPP_DLR_TEXT_MAX + 1];
    size_t   text_len;
};

/* Every field absent: for building a receipt to format. */
void smpp_dlr_init(struct smpp_dlr *r);

/*
 * Parse len bytes of receipt text (not NUL-terminated; buf may be NULL when
 * len is 0). Trailing NULs are ignored (some SMSCs count the C-string
 * terminator in sm_length). Everything after "text:" is the text, colons and
 * all; only its first SMPP_DLR_TEXT_MAX bytes are kept.
 *
 * out is always filled, with whatever was found, even on error, so that
 * smpp_dlr_combine() can complete it from the TLVs. Returns 0 when id and
 * stat are both usable, else the first of: EEMPTY, ENOTRECEIPT, the id
 * error, the stat error.
 *
 * An id longer than SMPP_DLR_ID_MAX is an error (EIDLONG), not truncated:
 * a cut id could match another message's.
 */
int smpp_dlr_parse(const void *buf, size_t len, struct smpp_dlr *out);

/*
 * The receipt TLVs as the PDU layer extracted them. A NULL
 * struct means none of them.
 */
struct smpp_dlr_tlv {
    const char *receipted_message_id;   /* NUL-terminated; NULL when absent */
    uint8_t     message_state;          /* 0 when absent, else 1..8 */
    bool        has_network_error_code;
    uint8_t     network_error_code[3];  /* network type, error (big-endian) */
};

/*
 * The final receipt of a deliver_sm: text (the result of smpp_dlr_parse(),
 * successful or not; NULL when there was no short_message) completed and
 * overridden by the TLVs that are present. A TLV that is present but
 * unusable (an id over 64 characters, message_state 9) is an error, not a
 * reason to fall back on the text. out may be text.
 *
 * Returns 0 when out has a usable id and stat; ENOSOURCE when neither the
 * text had any receipt field nor any TLV was present; else out->id_error or
 * out->stat_error. out is filled in every case.
 */
int smpp_dlr_combine(const struct smpp_dlr *text, const struct smpp_dlr_tlv *tlv,
                     struct smpp_dlr *out);

/*
 * Write r as Appendix B text into buf (bufsz bytes), NUL-terminated:
 *
 *   id:%s sub:%03d dlvrd:%03d submit date:%10s done date:%10s stat:%s err:%03d text:%.20s
 *
 * Fields not in r->present are left out; fill them all for the standard
 * form. Dates are written with seconds (12 digits) only when has_sec is
 * set. err is written as %03d when r->err >= 0, else err_raw as it is.
 * text is written as its text_len raw bytes, so the output may hold NULs:
 * use the returned length.
 *
 * Returns the length (without the NUL), EINVAL when r has no usable id or
 * stat or a present field out of range, ENOSPACE when it does not fit
 * (SMPP_DLR_FORMAT_MAX always does).
 */
int smpp_dlr_format(const struct smpp_dlr *r, char *buf, size_t bufsz);

/* How an SMSC writes its message ids (a per-SMSC, per-direction setting). */
enum smpp_dlr_id_format {
    SMPP_DLR_ID_HEX,        /* hexadecimal, any case, optional 0x */
    SMPP_DLR_ID_DEC,        /* decimal */
    SMPP_DLR_ID_STRING,     /* opaque */
};

/*
 * The canonical form of a message id, so that the id of a submit_sm_resp
 * and the id of its receipt compare equal with strcmp() however each SMSC
 * writes them:
 *
 *   HEX, all hex digits (after an optional 0x): lowercase hex, leading
 *        zeros dropped ("0" for zero).
 *   DEC, all decimal digits: the same number in that hex form; any length
 *        up to SMPP_DLR_ID_MAX digits, not only 64-bit values.
 *   STRING, or HEX/DEC ids that are not numbers in that base: the id in
 *        lowercase, otherwise unchanged.
 *
 * So "255" (DEC), "FF", "0xff" and "000ff" (HEX) are all "ff".
 *
 * id is NUL-terminated, 1..SMPP_DLR_ID_MAX printable ASCII characters
 * (EBADID, EIDLONG otherwise). Writes a NUL-terminated result into out and
 * returns its length, or ENOSPACE (outsz of SMPP_DLR_ID_MAX + 1 always
 * suffices).
 */
int smpp_dlr_normalize_id(const char *id, enum smpp_dlr_id_format from,
                          char *out, size_t outsz);

#endif

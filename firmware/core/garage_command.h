/*
 * Parsing and verification of relay commands.
 *
 * A command is one line of ASCII, at most GARAGE_COMMAND_MAX bytes:
 *
 *     v1 <device> pulse <seq> <ts> <mac>
 *
 * where mac is the HMAC-SHA256, in 64 lowercase hex digits, of everything
 * before the last space, keyed with the device's 32-byte command key.
 * docs/protocol.md in the garagectl repository has the full format and a
 * test vector.
 */
#ifndef GARAGE_COMMAND_H
#define GARAGE_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Maximum length of a command payload, in bytes. */
#define GARAGE_COMMAND_MAX 128

/* Maximum length of a device name: [a-z][a-z0-9-]{0,30}. */
#define GARAGE_DEVICE_NAME_MAX 31

/* Size of the command key and of the HMAC-SHA256 tag, in bytes. */
#define GARAGE_KEY_SIZE 32
#define GARAGE_MAC_SIZE 32

/*
 * Maximum difference, in seconds, between a command's timestamp and the
 * relay's clock. It bounds how long a captured command stays usable.
 */
#define GARAGE_CLOCK_WINDOW 30

/*
 * Reason codes, published in the state message. The order of the rejection
 * codes is the order in which garage_relay_handle checks them.
 */
typedef enum {
	GARAGE_REASON_OK = 0,    /* command accepted */
	GARAGE_REASON_BOOT,      /* no command handled since the start */
	GARAGE_REASON_MALFORMED, /* payload does not parse */
	GARAGE_REASON_FOREIGN,   /* command for another device */
	GARAGE_REASON_FORGED,    /* MAC does not match */
	GARAGE_REASON_STALE,     /* timestamp too far behind the clock */
	GARAGE_REASON_FUTURE,    /* timestamp too far ahead of the clock */
	GARAGE_REASON_REPLAY,    /* sequence number not above the last accepted */
	GARAGE_REASON_COOLDOWN   /* too soon after the last accepted command */
} garage_reason;

/* A parsed command. Nothing in it is verified until garage_command_verify. */
typedef struct {
	char device[GARAGE_DEVICE_NAME_MAX + 1]; /* NUL-terminated */
	uint64_t seq;                            /* 1 to 2^63-1 */
	uint64_t ts;                             /* Unix time, 0 to 2^63-1 */
	uint8_t mac[GARAGE_MAC_SIZE];
	size_t signed_len; /* number of leading payload bytes that mac covers */
} garage_command;

/* Returns the reason's name as published in the state message ("ok", "replay"). */
const char *garage_reason_name(garage_reason reason);

/*
 * Checks that name is a device name: 1 to 31 bytes of [a-z0-9-] starting
 * with a letter, NUL-terminated. Returns 1 if it is, else 0.
 */
int garage_device_name_valid(const char *name);

/*
 * Parses payload into cmd. Returns GARAGE_REASON_OK, or
 * GARAGE_REASON_MALFORMED for anything that is not exactly the format above:
 * extra whitespace, a trailing newline, leading zeros, a sequence number of
 * 0, numbers above 2^63-1, uppercase hex or more than GARAGE_COMMAND_MAX
 * bytes. On MALFORMED the content of cmd is unspecified.
 */
garage_reason garage_command_parse(garage_command *cmd, const uint8_t *payload, size_t len);

/*
 * Verifies a command that garage_command_parse accepted from the same
 * payload, in the protocol's order: the device name (FOREIGN), the MAC
 * compared in constant time (FORGED), then the timestamp against now, the
 * relay's Unix time in seconds (STALE, FUTURE). It does not check the
 * sequence number. Returns GARAGE_REASON_OK when every check passes.
 */
garage_reason garage_command_verify(const garage_command *cmd, const uint8_t *payload,
	const char *device, const uint8_t key[GARAGE_KEY_SIZE], int64_t now);

/* Overwrites n bytes at p with zeros in a way the compiler does not remove. */
void garage_wipe(void *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* GARAGE_COMMAND_H */

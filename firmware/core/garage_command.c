#include "garage_command.h"

#include <string.h>

#include <bearssl/bearssl_hmac.h>

/* Largest value of a sequence number or timestamp: 2^63-1. */
#define DECIMAL_MAX UINT64_C(9223372036854775807)

static const char *const reason_names[] = {
	"ok", "boot", "malformed", "foreign", "forged", "stale", "future", "replay", "cooldown",
};

const char *garage_reason_name(garage_reason reason)
{
	if ((unsigned)reason >= sizeof reason_names / sizeof reason_names[0])
		return "unknown";
	return reason_names[reason];
}

static int is_lower(uint8_t c) { return c >= 'a' && c <= 'z'; }
static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static int is_name_char(uint8_t c) { return is_lower(c) || is_digit(c) || c == '-'; }

int garage_device_name_valid(const char *name)
{
	size_t i;

	if (!is_lower((uint8_t)name[0]))
		return 0;
	for (i = 1; name[i] != '\0'; i++) {
		if (i >= GARAGE_DEVICE_NAME_MAX || !is_name_char((uint8_t)name[i]))
			return 0;
	}
	return 1;
}

/* Consumes the literal lit at *pos. Returns 1 if it was there. */
static int expect(const uint8_t *p, size_t len, size_t *pos, const char *lit)
{
	size_t n = strlen(lit);

	if (len - *pos < n || memcmp(p + *pos, lit, n) != 0)
		return 0;
	*pos += n;
	return 1;
}

/*
 * Consumes a decimal number from 0 to 2^63-1 at *pos: one or more digits,
 * no sign, and no leading zero unless the number is 0 itself.
 */
static int parse_decimal(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
	size_t i = *pos;
	uint64_t v = 0;

	if (i >= len || !is_digit(p[i]))
		return 0;
	if (p[i] == '0' && i + 1 < len && is_digit(p[i + 1]))
		return 0;
	for (; i < len && is_digit(p[i]); i++) {
		uint64_t d = (uint64_t)(p[i] - '0');
		if (v > (DECIMAL_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*pos = i;
	*out = v;
	return 1;
}

/* Returns the value of a lowercase hex digit, or -1. */
static int hex_value(uint8_t c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

garage_reason garage_command_parse(garage_command *cmd, const uint8_t *p, size_t len)
{
	size_t pos = 0, start, i;

	if (len > GARAGE_COMMAND_MAX || !expect(p, len, &pos, "v1 "))
		return GARAGE_REASON_MALFORMED;

	start = pos;
	if (pos >= len || !is_lower(p[pos]))
		return GARAGE_REASON_MALFORMED;
	while (pos < len && is_name_char(p[pos]))
		pos++;
	if (pos - start > GARAGE_DEVICE_NAME_MAX)
		return GARAGE_REASON_MALFORMED;
	memcpy(cmd->device, p + start, pos - start);
	cmd->device[pos - start] = '\0';

	if (!expect(p, len, &pos, " pulse ") || !parse_decimal(p, len, &pos, &cmd->seq) ||
	    cmd->seq == 0 || !expect(p, len, &pos, " ") || !parse_decimal(p, len, &pos, &cmd->ts))
		return GARAGE_REASON_MALFORMED;
	cmd->signed_len = pos;

	if (!expect(p, len, &pos, " ") || len - pos != 2 * GARAGE_MAC_SIZE)
		return GARAGE_REASON_MALFORMED;
	for (i = 0; i < GARAGE_MAC_SIZE; i++) {
		int hi = hex_value(p[pos + 2 * i]);
		int lo = hex_value(p[pos + 2 * i + 1]);
		if (hi < 0 || lo < 0)
			return GARAGE_REASON_MALFORMED;
		cmd->mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return GARAGE_REASON_OK;
}

void garage_wipe(void *p, size_t n)
{
	volatile uint8_t *b = (volatile uint8_t *)p;

	while (n-- > 0)
		*b++ = 0;
}

/* Compares a and b in time that depends only on n. Returns 1 if they are equal. */
static int equal_constant_time(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint32_t diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= (uint32_t)(a[i] ^ b[i]);
	/* diff is 0 to 255, so diff - 1 has its top bit set only when diff is 0. */
	return (int)((diff - 1) >> 31);
}

/* Checks the MAC with BearSSL's HMAC-SHA256 and wipes every key-derived byte. */
static int mac_valid(const garage_command *cmd, const uint8_t *payload,
	const uint8_t key[GARAGE_KEY_SIZE])
{
	br_hmac_key_context key_context;
	br_hmac_context context;
	uint8_t mac[GARAGE_MAC_SIZE];
	int ok;

	br_hmac_key_init(&key_context, &br_sha256_vtable, key, GARAGE_KEY_SIZE);
	br_hmac_init(&context, &key_context, 0);
	br_hmac_update(&context, payload, cmd->signed_len);
	br_hmac_out(&context, mac);
	ok = equal_constant_time(mac, cmd->mac, GARAGE_MAC_SIZE);

	/* The computed tag is a valid MAC for the sender's bytes, so it must not outlive the check. */
	garage_wipe(mac, sizeof mac);
	garage_wipe(&context, sizeof context);
	garage_wipe(&key_context, sizeof key_context);
	return ok;
}

garage_reason garage_command_verify(const garage_command *cmd, const uint8_t *payload,
	const char *device, const uint8_t key[GARAGE_KEY_SIZE], int64_t now)
{
	uint64_t clock = now < 0 ? 0 : (uint64_t)now;

	if (strcmp(cmd->device, device) != 0)
		return GARAGE_REASON_FOREIGN;
	if (!mac_valid(cmd, payload, key))
		return GARAGE_REASON_FORGED;
	if (cmd->ts < clock && clock - cmd->ts > GARAGE_CLOCK_WINDOW)
		return GARAGE_REASON_STALE;
	if (cmd->ts > clock && cmd->ts - clock > GARAGE_CLOCK_WINDOW)
		return GARAGE_REASON_FUTURE;
	return GARAGE_REASON_OK;
}

/*
 * libFuzzer harness of the command checks. Every input goes through
 * garage_relay_handle, and the harness aborts when an invariant breaks:
 *
 *   - the reason is a known code and the state message fits its buffer;
 *   - only a command whose MAC is right for the device key is accepted, and
 *     the relay closes exactly when a command is accepted;
 *   - a payload that parses has one spelling: it re-encodes to its own bytes.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined, the core and -lbearssl.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl/bearssl_hmac.h>

#include "../core/garage_relay.h"

static const uint8_t key[GARAGE_KEY_SIZE] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* The clock of the test vector, so that mutations of it reach every check. */
static const int64_t now = 1764849600;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "invariant broken: %s\n", what);
		abort();
	}
}

static int mac_matches(const uint8_t *data, const garage_command *cmd)
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t mac[GARAGE_MAC_SIZE];

	br_hmac_key_init(&kc, &br_sha256_vtable, key, sizeof key);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, data, cmd->signed_len);
	br_hmac_out(&hc, mac);
	return memcmp(mac, cmd->mac, sizeof mac) == 0;
}

static int reencodes(const uint8_t *data, size_t size, const garage_command *cmd)
{
	char text[GARAGE_COMMAND_MAX * 2];
	int n, i;

	n = snprintf(text, sizeof text, "v1 %s pulse %" PRIu64 " %" PRIu64 " ", cmd->device, cmd->seq,
		cmd->ts);
	for (i = 0; i < GARAGE_MAC_SIZE; i++)
		n += snprintf(text + n, sizeof text - (size_t)n, "%02x", cmd->mac[i]);
	return (size_t)n == size && memcmp(text, data, size) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	garage_relay relay;
	garage_command cmd;
	garage_reason reason, parsed;
	char state[GARAGE_STATE_MAX];

	check(garage_relay_init(&relay, "relay1", key, 400, 10000, now - 3600) == 0, "init");
	reason = garage_relay_handle(&relay, data, size, 1000, now);
	check((unsigned)reason <= GARAGE_REASON_COOLDOWN, "known reason");
	check(garage_relay_state(&relay, state) < GARAGE_STATE_MAX, "state fits");
	check(strcmp(garage_reason_name(reason), "unknown") != 0, "reason has a name");

	parsed = garage_command_parse(&cmd, data, size);
	check((parsed == GARAGE_REASON_OK) == (reason != GARAGE_REASON_MALFORMED), "parse agrees");
	if (parsed == GARAGE_REASON_OK)
		check(reencodes(data, size, &cmd), "one spelling per command");
	if (reason == GARAGE_REASON_OK)
		check(strcmp(cmd.device, "relay1") == 0 && mac_matches(data, &cmd), "accepted only if signed");
	check(garage_relay_closed(&relay) == (reason == GARAGE_REASON_OK), "closed only when accepted");
	return 0;
}

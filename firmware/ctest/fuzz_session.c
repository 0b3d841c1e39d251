/*
 * libFuzzer harness of the MQTT session and the device glue. The input is
 * what a hostile broker sends after the device connects: the first byte
 * sets how many bytes each read returns, the second how many ms pass per
 * poll, and the rest is the byte stream. The harness aborts if the relay
 * stays closed longer than its pulse or the device writes a packet larger
 * than its transmit buffer; AddressSanitizer catches memory errors.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined, the core and -lbearssl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/garage_device.h"

#define PULSE_MS 400u

/* The test vector's key and clock, so that a seed with its command closes the relay. */
static const uint8_t key[GARAGE_KEY_SIZE] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const int64_t start = 1764849600 - 10;

typedef struct {
	const uint8_t *data;
	size_t len, pos, chunk;
	int closed;
	uint32_t closed_since;
	uint32_t now;
} stream;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "invariant broken: %s\n", what);
		abort();
	}
}

static int stream_connect(void *context)
{
	(void)context;
	return 0;
}

static void stream_close(void *context)
{
	(void)context;
}

static int stream_read(void *context, uint8_t *buf, size_t len)
{
	stream *s = (stream *)context;
	size_t n = s->len - s->pos;

	if (n > s->chunk)
		n = s->chunk;
	if (n > len)
		n = len;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (int)n;
}

static int stream_write(void *context, const uint8_t *buf, size_t len)
{
	(void)context;
	(void)buf;
	check(len <= GARAGE_MQTT_TX_SIZE, "packet fits the transmit buffer");
	return (int)len;
}

static void set_relay(void *context, int closed)
{
	stream *s = (stream *)context;

	if (closed && !s->closed)
		s->closed_since = s->now;
	s->closed = closed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static garage_device device;
	stream s;
	garage_transport transport = { &s, stream_connect, stream_close, stream_read, stream_write };
	garage_platform platform = { &s, set_relay, NULL };
	garage_device_config config = {
		"relay1", "password", "garage/relay1/cmd", "garage/relay1/state", "garage/relay1/avail",
		key, PULSE_MS, 10000,
	};
	int polls;

	if (size < 2)
		return 0;
	memset(&s, 0, sizeof s);
	s.chunk = (size_t)data[0] % 64 + 1;
	s.data = data + 2;
	s.len = size - 2;
	check(garage_device_init(&device, &config, &platform, &transport, start) == 0, "init");

	for (polls = 0; polls < 2000 && (s.pos < s.len || s.closed); polls++) {
		garage_device_poll(&device, s.now, start + 10 + s.now / 1000);
		check(!s.closed || s.now - s.closed_since <= PULSE_MS, "pulse ends on time");
		s.now += (uint32_t)data[1] % 50 + 1;
	}
	return 0;
}

/*
 * garage-relay-host: the relay firmware's core running on Linux, for tests
 * against a real broker. It connects like the ESP8266 does and prints
 * "relay: closed" and "relay: open" on stdout where the board would switch
 * its relay pin. Everything else goes to stderr.
 *
 * Secrets are read from files, never from the command line, which other
 * users can see in the process list.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/garage_device.h"
#include "tls_transport.h"

static const char usage[] =
	"usage: garage-relay-host --device NAME --broker HOST --ca FILE --password-file FILE\n"
	"                         --key-file FILE [options]\n"
	"\n"
	"  --device NAME          device name; also the MQTT account and client ID\n"
	"  --broker HOST          broker host name, checked in its certificate\n"
	"  --port PORT            broker port (default 8883)\n"
	"  --connect ADDRESS      connect to ADDRESS instead of resolving HOST\n"
	"  --ca FILE              PEM file of the CA certificates to trust, and no others\n"
	"  --password-file FILE   file with the MQTT password alone on one line\n"
	"  --key-file FILE        file with the 32-byte command key in hex\n"
	"  --pulse-ms N           time the relay stays closed, in ms (default 400)\n"
	"  --cooldown-ms N        minimum time between two commands, in ms (default 10000)\n"
	"  --fragment-length N    TLS maximum fragment length: 512 (default), 1024, 2048,\n"
	"                         4096 or 16384\n"
	"  --clock-offset S       seconds added to the system clock, to test clock errors\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void log_line(const char *format, ...)
{
	va_list args;

	fputs("garage-relay: ", stderr);
	va_start(args, format);
	vfprintf(stderr, format, args);
	va_end(args);
	fputc('\n', stderr);
}

static void device_log(void *context, const char *event, const char *detail, long value)
{
	(void)context;
	log_line("%s%s%s (%ld)", event, detail != NULL ? ": " : "", detail != NULL ? detail : "", value);
}

static void set_relay(void *context, int closed)
{
	static int was_closed;

	(void)context;
	if (closed == was_closed)
		return;
	was_closed = closed;
	printf("relay: %s\n", closed ? "closed" : "open");
	fflush(stdout);
}

/*
 * Reads a file that contains one secret alone on one line into buf, without
 * the newline. Returns 0, or -1 after logging why. The message never
 * contains the secret.
 */
static int read_secret(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		log_line("read %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, size, f);
	fclose(f);
	if (n == size) {
		log_line("%s: longer than %zu bytes", path, size - 1);
		return -1;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	if (n == 0 || strchr(buf, '\n') != NULL || strchr(buf, '\r') != NULL || strlen(buf) != n) {
		log_line("%s: invalid content: expected one secret alone on one line", path);
		return -1;
	}
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int read_key(const char *path, uint8_t key[GARAGE_KEY_SIZE])
{
	char hex[2 * GARAGE_KEY_SIZE + 2];
	size_t i;

	if (read_secret(path, hex, sizeof hex) != 0)
		return -1;
	if (strlen(hex) != 2 * GARAGE_KEY_SIZE) {
		log_line("%s: invalid key: expected %d hex digits", path, 2 * GARAGE_KEY_SIZE);
		return -1;
	}
	for (i = 0; i < GARAGE_KEY_SIZE; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			log_line("%s: invalid key: expected %d hex digits", path, 2 * GARAGE_KEY_SIZE);
			return -1;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	garage_wipe(hex, sizeof hex);
	return 0;
}

static int parse_number(const char *flag, const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max) {
		log_line("invalid %s %s: use a whole number from %lld to %lld", flag, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

typedef struct {
	const char *device, *broker, *port, *connect, *ca, *password_file, *key_file;
	long long pulse_ms, cooldown_ms, fragment_length, clock_offset;
} options;

static int parse_options(int argc, char **argv, options *o)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
		int err = 0;

		if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0) {
			fputs(usage, stdout);
			exit(0);
		}
		if (value == NULL) {
			log_line("%s needs a value\n%s", flag, usage);
			return -1;
		}
		i++;
		if (strcmp(flag, "--device") == 0) o->device = value;
		else if (strcmp(flag, "--broker") == 0) o->broker = value;
		else if (strcmp(flag, "--port") == 0) o->port = value;
		else if (strcmp(flag, "--connect") == 0) o->connect = value;
		else if (strcmp(flag, "--ca") == 0) o->ca = value;
		else if (strcmp(flag, "--password-file") == 0) o->password_file = value;
		else if (strcmp(flag, "--key-file") == 0) o->key_file = value;
		else if (strcmp(flag, "--pulse-ms") == 0)
			err = parse_number(flag, value, 1, 60000, &o->pulse_ms);
		else if (strcmp(flag, "--cooldown-ms") == 0)
			err = parse_number(flag, value, 0, 3600000, &o->cooldown_ms);
		else if (strcmp(flag, "--fragment-length") == 0)
			err = parse_number(flag, value, 512, 16384, &o->fragment_length);
		else if (strcmp(flag, "--clock-offset") == 0)
			err = parse_number(flag, value, -4000000000LL, 4000000000LL, &o->clock_offset);
		else {
			log_line("unknown option %s\n%s", flag, usage);
			return -1;
		}
		if (err != 0)
			return -1;
	}
	if (!o->device || !o->broker || !o->ca || !o->password_file || !o->key_file) {
		log_line("--device, --broker, --ca, --password-file and --key-file are required\n%s", usage);
		return -1;
	}
	return 0;
}

static uint32_t millis(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Runs the device until SIGINT or SIGTERM, waking at least every 10 ms. */
static void run(garage_device *device, const tls_transport *tls, int64_t clock_offset)
{
	while (!stop_requested) {
		struct pollfd p = { tls_transport_fd(tls), POLLIN, 0 };

		garage_device_poll(device, millis(), (int64_t)time(NULL) + clock_offset);
		if (p.fd >= 0)
			poll(&p, 1, 10);
		else
			nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
}

int main(int argc, char **argv)
{
	static tls_transport tls;
	static garage_device device;
	static char password[GARAGE_MQTT_PASSWORD_MAX + 2];
	static char topics[3][GARAGE_MQTT_TOPIC_MAX + 1];
	static uint8_t key[GARAGE_KEY_SIZE];
	options o = { NULL, NULL, "8883", NULL, NULL, NULL, NULL, 400, 10000, 512, 0 };
	garage_transport transport;
	garage_platform platform = { NULL, set_relay, device_log };
	garage_device_config config;
	struct sigaction sa;

	if (parse_options(argc, argv, &o) != 0)
		return 2;
	if (!garage_device_name_valid(o.device)) {
		log_line("invalid device name %s: use 1 to 31 of a-z, 0-9 and '-', starting with a letter",
			o.device);
		return 2;
	}
	if (read_secret(o.password_file, password, sizeof password) != 0 || read_key(o.key_file, key) != 0)
		return 1;

	snprintf(topics[0], sizeof topics[0], "garage/%s/cmd", o.device);
	snprintf(topics[1], sizeof topics[1], "garage/%s/state", o.device);
	snprintf(topics[2], sizeof topics[2], "garage/%s/avail", o.device);
	config = (garage_device_config){ o.device, password, topics[0], topics[1], topics[2], key,
		(uint32_t)o.pulse_ms, (uint32_t)o.cooldown_ms };

	tls.server_name = o.broker;
	tls.address = o.connect;
	tls.port = o.port;
	tls.clock_offset = o.clock_offset;
	tls.fragment_length = (unsigned)o.fragment_length;
	tls.log = log_line;
	if (tls_transport_init(&tls, o.ca, &transport) != 0)
		return 1;
	if (garage_device_init(&device, &config, &platform, &transport,
		(int64_t)time(NULL) + o.clock_offset) != 0) {
		log_line("invalid device settings: check the password length and the pulse");
		return 2;
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	log_line("started as %s, broker %s port %s", o.device, o.broker, o.port);
	run(&device, &tls, o.clock_offset);
	if (tls_transport_fd(&tls) >= 0)
		transport.close(transport.context);
	log_line("stopped");
	return 0;
}

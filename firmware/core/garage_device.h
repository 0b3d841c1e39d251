/*
 * The relay device: the MQTT session and the relay logic joined together.
 * The Arduino sketch and the host build both run the firmware through this
 * interface, so they differ only in their transport, clock and output pin.
 *
 * Commands arrive on topic_cmd. The device publishes its state, "v1 <status>
 * <last-seq> <reason>", retained and with QoS 1, on topic_state after it
 * connects, after every command it handles and when a pulse ends. It
 * publishes "online", retained, on topic_avail, where its will publishes
 * "offline".
 */
#ifndef GARAGE_DEVICE_H
#define GARAGE_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "garage_mqtt.h"
#include "garage_relay.h"

#ifdef __cplusplus
extern "C" {
#endif

/* MQTT keep-alive of the device, in seconds. */
#define GARAGE_KEEPALIVE_S 60

/* Device settings. The strings must stay valid while the device runs. */
typedef struct {
	const char *device;        /* own name, also the MQTT client ID and username */
	const char *password;      /* MQTT password */
	const char *topic_cmd;     /* garage/<device>/cmd */
	const char *topic_state;   /* garage/<device>/state */
	const char *topic_avail;   /* garage/<device>/avail */
	const uint8_t *key;        /* GARAGE_KEY_SIZE bytes of command key */
	uint32_t pulse_ms;         /* how long the relay closes */
	uint32_t cooldown_ms;      /* minimum time between two accepted commands */
} garage_device_config;

/*
 * Platform functions. set_relay(context, 1) closes the relay and
 * set_relay(context, 0) opens it. log, which may be NULL, gets events with a
 * detail string (or NULL) and a number. Nothing passed to log is secret.
 */
typedef struct {
	void *context;
	void (*set_relay)(void *context, int closed);
	void (*log)(void *context, const char *event, const char *detail, long value);
} garage_platform;

/* Device state. Initialise it with garage_device_init; the fields are private. */
typedef struct {
	garage_relay relay;
	garage_mqtt mqtt;
	garage_mqtt_options mqtt_options;
	garage_mqtt_handler mqtt_handler;
	const garage_device_config *config;
	const garage_platform *platform;
	uint32_t now_ms;
	int64_t now_unix;
	uint8_t state_due; /* the state changed while the session was not ready */
} garage_device;

/*
 * Sets up the device at now_unix, the Unix time of the start. The relay
 * stays open. Returns 0, or -1 when a setting is invalid.
 */
int garage_device_init(garage_device *d, const garage_device_config *config,
	const garage_platform *platform, const garage_transport *transport, int64_t now_unix);

/*
 * Runs the device at now_ms on the millisecond counter and now_unix in
 * seconds: ends a pulse that is over, handles incoming commands and keeps
 * the MQTT session up. Call it from the main loop at least every 10 ms or
 * so, because the pulse length depends on it. It never opens a connection,
 * which may block, while the relay is closed.
 */
void garage_device_poll(garage_device *d, uint32_t now_ms, int64_t now_unix);

/* Returns 1 while the MQTT session is up and subscribed, else 0. */
int garage_device_online(const garage_device *d);

/* Returns 1 while the relay is closed, else 0. */
int garage_device_relay_closed(const garage_device *d);

#ifdef __cplusplus
}
#endif

#endif /* GARAGE_DEVICE_H */

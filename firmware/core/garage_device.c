#include "garage_device.h"

#include <string.h>

static void log_event(garage_device *d, const char *event, const char *detail, long value)
{
	if (d->platform->log != NULL)
		d->platform->log(d->platform->context, event, detail, value);
}

static void publish_state(garage_device *d)
{
	char state[GARAGE_STATE_MAX];
	size_t len = garage_relay_state(&d->relay, state);

	d->state_due = 1;
	if (garage_mqtt_status_of(&d->mqtt) != GARAGE_MQTT_READY)
		return;
	if (garage_mqtt_publish(&d->mqtt, d->config->topic_state, (const uint8_t *)state, len, 1) == 0)
		d->state_due = 0;
}

static void set_relay(garage_device *d)
{
	d->platform->set_relay(d->platform->context, garage_relay_closed(&d->relay));
}

static void on_message(void *context, const char *topic, size_t topic_len,
	const uint8_t *payload, size_t len, int truncated)
{
	garage_device *d = (garage_device *)context;
	const char *cmd = d->config->topic_cmd;
	int was_closed = garage_relay_closed(&d->relay);
	garage_reason reason;

	if (topic_len != strlen(cmd) || memcmp(topic, cmd, topic_len) != 0) {
		log_event(d, "message on another topic ignored", NULL, (long)topic_len);
		return;
	}
	if (truncated)
		len = GARAGE_COMMAND_MAX + 1; /* too long, whatever the bytes kept */
	reason = garage_relay_handle(&d->relay, payload, len, d->now_ms, d->now_unix);
	if (garage_relay_closed(&d->relay) != was_closed)
		set_relay(d);
	log_event(d, reason == GARAGE_REASON_OK ? "command accepted" : "command rejected",
		garage_reason_name(reason), (long)d->relay.last_seq);
	publish_state(d);
}

static void on_ready(void *context)
{
	garage_device *d = (garage_device *)context;
	static const uint8_t online[] = "online";

	log_event(d, "session ready", NULL, 0);
	if (garage_mqtt_publish(&d->mqtt, d->config->topic_avail, online, sizeof online - 1, 1) != 0)
		return;
	publish_state(d);
}

static void on_mqtt_log(void *context, const char *event, long detail)
{
	log_event((garage_device *)context, "mqtt", event, detail);
}

int garage_device_init(garage_device *d, const garage_device_config *config,
	const garage_platform *platform, const garage_transport *transport, int64_t now_unix)
{
	garage_mqtt_options *o = &d->mqtt_options;
	garage_mqtt_handler *h = &d->mqtt_handler;

	memset(d, 0, sizeof *d);
	d->config = config;
	d->platform = platform;
	d->now_unix = now_unix;
	if (garage_relay_init(&d->relay, config->device, config->key, config->pulse_ms,
		config->cooldown_ms, now_unix) != 0)
		return -1;

	o->client_id = config->device;
	o->username = config->device;
	o->password = config->password;
	o->subscribe_topic = config->topic_cmd;
	o->will_topic = config->topic_avail;
	o->will_message = "offline";
	o->keepalive_s = GARAGE_KEEPALIVE_S;
	h->context = d;
	h->message = on_message;
	h->ready = on_ready;
	h->log = on_mqtt_log;
	if (config->topic_state == NULL || strlen(config->topic_state) > GARAGE_MQTT_TOPIC_MAX)
		return -1;
	if (garage_mqtt_init(&d->mqtt, o, transport, h) != 0)
		return -1;

	d->state_due = 1;
	set_relay(d);
	return 0;
}

void garage_device_poll(garage_device *d, uint32_t now_ms, int64_t now_unix)
{
	d->now_ms = now_ms;
	d->now_unix = now_unix;

	if (garage_relay_poll(&d->relay, now_ms)) {
		set_relay(d);
		publish_state(d);
	}
	garage_mqtt_poll(&d->mqtt, now_ms, !garage_relay_closed(&d->relay));
	if (d->state_due && garage_mqtt_status_of(&d->mqtt) == GARAGE_MQTT_READY)
		publish_state(d);
}

int garage_device_online(const garage_device *d)
{
	return garage_mqtt_status_of(&d->mqtt) == GARAGE_MQTT_READY;
}

int garage_device_relay_closed(const garage_device *d)
{
	return garage_relay_closed(&d->relay);
}

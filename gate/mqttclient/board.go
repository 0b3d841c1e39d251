package mqttclient

import (
	"strings"
	"sync"
	"time"
)

// maxReportSize bounds a stored report. Real reports are a few dozen bytes, and
// the bound keeps a misbehaving device from filling the gate's memory.
const maxReportSize = 128

// Report is the last payload received on a device's state or avail topic.
type Report struct {
	Value string
	// Since is when the gate first received this value. A retained value that the
	// broker sends again after a reconnect keeps its first time.
	Since time.Time
}

// Known reports whether a report arrived at all.
func (r Report) Known() bool { return !r.Since.IsZero() }

// DeviceStatus is the last state and availability report of one device.
type DeviceStatus struct {
	State Report // garage/<device>/state
	Avail Report // garage/<device>/avail
}

// board stores the last reports per device. It is safe for concurrent use.
type board struct {
	mu      sync.Mutex
	devices map[string]*DeviceStatus
}

func newBoard(devices []string) *board {
	b := &board{devices: make(map[string]*DeviceStatus, len(devices))}
	for _, d := range devices {
		b.devices[d] = &DeviceStatus{}
	}
	return b
}

// record stores payload from topic garage/<device>/<kind>, for known devices only.
func (b *board) record(topic string, payload []byte, now time.Time) {
	device, kind, ok := splitTopic(topic)
	if !ok || len(payload) > maxReportSize {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.devices[device]
	if !ok {
		return
	}
	r := &st.State
	if kind == "avail" {
		r = &st.Avail
	}
	if r.Known() && r.Value == string(payload) {
		return
	}
	*r = Report{Value: string(payload), Since: now}
}

func (b *board) get(device string) (DeviceStatus, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.devices[device]
	if !ok {
		return DeviceStatus{}, false
	}
	return *st, true
}

// splitTopic splits garage/<device>/state or garage/<device>/avail.
func splitTopic(topic string) (device, kind string, ok bool) {
	parts := strings.Split(topic, "/")
	if len(parts) != 3 || parts[0] != "garage" || (parts[2] != "state" && parts[2] != "avail") {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// Topic returns the MQTT topic garage/<device>/<kind>, kind being cmd, state or avail.
func Topic(device, kind string) string { return "garage/" + device + "/" + kind }

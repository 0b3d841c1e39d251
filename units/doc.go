// Package units renders the hub's systemd units and manages them through
// systemd's D-Bus API.
//
// [Files] renders garage-mosquitto.service, garage-gate.service and
// garage-firewall.service with github.com/coreos/go-systemd/v22/unit, the
// same bytes for the same [Options]. Each unit runs sandboxed: read-only file
// system, no capabilities beyond the one it needs, a system call filter, and
// an IP address filter that keeps the broker and the gate to localhost and
// the configured source networks. For the example config, systemd 252's
// systemd-analyze security --offline=true scores the broker and the gate at
// 1.0 and the firewall, which runs as root with CAP_NET_ADMIN, at 1.4. The gate
// gets its secrets as systemd credentials, listed by [GateCredentials].
//
// [Changes], [EnableLinks], [MaskDebianBroker] and [LinkChanges] turn the
// units into changes for the change package, so that plan and apply cover
// them under --root too. [Activate] and [Reload] act on the live host only,
// through [Manager].
package units

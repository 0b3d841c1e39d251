// Package units manages the hub's systemd units through systemd's D-Bus API.
package units

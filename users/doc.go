// Package users declares the system accounts the hub needs and creates them
// with systemd-sysusers, which works on the live host and, through --root, on
// a tree that is not running.
package users

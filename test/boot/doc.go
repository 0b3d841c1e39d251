// Package boot holds the boot acceptance tests of garagectl. A tree that
// garagectl init provisioned boots with systemd as PID 1 in systemd-nspawn,
// inside a network namespace of its own. The tests check it from inside and
// from the host end of its veth: unit states and ordering, sandbox scores, the
// broker and the gate from an allowed and a blocked source, a live certificate
// rotation, apply, audit, and a second boot of the same tree.
//
// The base tree is a minimal Debian 12 made by debootstrap from the mirror that
// this machine's apt sources name. It is built once and cached outside the
// repository, keyed by its package list, and every test boots a copy.
//
// The tests need root, debootstrap, systemd-nspawn (Debian package
// systemd-container), unshare and nsenter (util-linux), ip (iproute2),
// systemd-sysusers and journalctl (systemd), openssl and curl. Under CI=true a
// missing program or missing root fails the test; elsewhere the test skips.
//
// NOTE: on a host without the memory, pids or cpu cgroup controller, the
// guest's systemd does not enforce MemoryMax=, TasksMax= or CPUQuota=. The
// test logs which of them it cannot check.
package boot

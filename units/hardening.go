package units

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// sandbox returns the protections that every unit of the hub gets. Each one
// takes away something a compromised daemon could use against the host, and
// systemd-analyze security scores each.
func sandbox() []directive {
	return []directive{
		serviceOpt("ProtectSystem", "strict",
			"Everything is read-only but the unit's StateDirectory= and its private",
			"/tmp, /var/tmp and /dev."),
		serviceOpt("ProtectHome", "yes"),
		serviceOpt("PrivateTmp", "yes"),
		serviceOpt("PrivateDevices", "yes"),
		serviceOpt("DevicePolicy", "closed"),
		serviceOpt("PrivateIPC", "yes"),
		serviceOpt("PrivateMounts", "yes"),
		serviceOpt("ProtectKernelTunables", "yes"),
		serviceOpt("ProtectKernelModules", "yes"),
		serviceOpt("ProtectKernelLogs", "yes"),
		serviceOpt("ProtectControlGroups", "yes"),
		serviceOpt("ProtectClock", "yes"),
		serviceOpt("ProtectHostname", "yes"),
		serviceOpt("ProtectProc", "invisible"),
		serviceOpt("ProcSubset", "pid"),
		serviceOpt("RestrictNamespaces", "yes"),
		serviceOpt("RestrictRealtime", "yes"),
		serviceOpt("RestrictSUIDSGID", "yes"),
		serviceOpt("LockPersonality", "yes"),
		serviceOpt("MemoryDenyWriteExecute", "yes"),
		serviceOpt("NoNewPrivileges", "yes"),
		serviceOpt("KeyringMode", "private"),
		serviceOpt("SystemCallArchitectures", "native"),
		serviceOpt("SystemCallFilter", "@system-service"),
		serviceOpt("SystemCallFilter", "~@privileged @resources"),
		serviceOpt("SystemCallErrorNumber", "EPERM",
			"A denied system call fails with EPERM instead of killing the daemon, so a",
			"needed call missing from the filter becomes an error the daemon can log,",
			"not a crash and restart loop."),
		serviceOpt("UMask", "0077"),
		serviceOpt("RemoveIPC", "yes"),
	}
}

// hideConfig returns the directives that leave the unit a read-only view of
// only the named paths under /etc/garagectl, and no view of the generated
// credentials, which only systemd reads, for LoadCredential=.
// NOTE: these mounts are checked by systemd-analyze and reproduced with
// unshare in the tests, but not yet started under systemd as PID 1.
func hideConfig(visible ...string) []directive {
	return []directive{
		serviceOpt("TemporaryFileSystem", "/etc/garagectl:ro",
			"An empty /etc/garagectl, into which only the files this unit needs are",
			"mounted read-only."),
		serviceOpt("BindReadOnlyPaths", strings.Join(visible, " ")),
		serviceOpt("InaccessiblePaths", "-/var/lib/garagectl"),
	}
}

// firstUnprivilegedPort is the default of net.ipv4.ip_unprivileged_port_start:
// binding a TCP port below it needs CAP_NET_BIND_SERVICE.
const firstUnprivilegedPort = 1024

// bindPort returns the capability and user namespace directives of a daemon
// that listens on port as an unprivileged user.
func bindPort(port uint16) []directive {
	if port >= firstUnprivilegedPort {
		return []directive{
			serviceOpt("CapabilityBoundingSet", ""),
			serviceOpt("PrivateUsers", "yes"),
		}
	}
	reason := fmt.Sprintf("Port %d is below %d, so binding it needs CAP_NET_BIND_SERVICE.",
		port, firstUnprivilegedPort)
	return []directive{
		serviceOpt("AmbientCapabilities", "CAP_NET_BIND_SERVICE", reason),
		serviceOpt("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"),
		serviceOpt("PrivateUsers", "no",
			"A capability inside a private user namespace does not count in the host's",
			"network namespace, so the port could not be bound."),
	}
}

// ipFilter returns the directives that keep a daemon's traffic to localhost and
// sources, for ingress and egress alike. key is the config key of sources, for
// the comment.
func ipFilter(sources []netip.Prefix, key string) []directive {
	// An empty list admits no outside source, as in the firewall: a port
	// that no source was allowed to reach stays shut.
	allow := []string{"localhost"}
	for _, p := range sources {
		s := p.Masked().String()
		if !slices.Contains(allow, s) {
			allow = append(allow, s)
		}
	}
	return []directive{
		serviceOpt("IPAddressDeny", "any",
			"Packets to and from any address but localhost and", key, "are dropped, in",
			"both directions, even if the firewall is down. An empty", key, "admits no",
			"outside source, as in the firewall."),
		serviceOpt("IPAddressAllow", strings.Join(allow, " ")),
	}
}

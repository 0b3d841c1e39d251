package units

// firewallUnit returns garage-firewall.service, which loads the hub's
// nftables ruleset at boot, before any network interface is configured.
func firewallUnit(o Options) []directive {
	d := []directive{
		unitOpt("Description", "garagectl firewall of "+o.Site),
		unitOpt("DefaultDependencies", "no",
			"The ruleset must be in place before ifupdown's networking.service or",
			"systemd-networkd configures an interface; both start after",
			"network-pre.target. Like Debian's nftables.service, the unit orders",
			"itself by hand, because the default dependencies would order it after",
			"sysinit.target."),
		unitOpt("Wants", "network-pre.target"),
		unitOpt("Before", "network-pre.target shutdown.target"),
		unitOpt("After", "local-fs.target"),
		unitOpt("Conflicts", "shutdown.target"),

		serviceOpt("Type", "oneshot"),
		serviceOpt("RemainAfterExit", "yes",
			"There is no ExecStop=: stopping the unit leaves the ruleset loaded, so the",
			"host is never left open."),
		serviceOpt("ExecStart", o.Garagectl+" firewall apply --boot --config "+o.ConfigFile),
		serviceOpt("User", "root",
			"garagectl loads secrets.yaml along with the config, and that file is",
			"readable by root only. Root keeps no capability but CAP_NET_ADMIN."),
	}
	d = append(d, hideConfig(o.ConfigFile, "-"+o.secretsFile())...)
	d = append(d, sandbox()...)
	d = append(d,
		serviceOpt("CapabilityBoundingSet", "CAP_NET_ADMIN",
			"Loading an nftables ruleset needs CAP_NET_ADMIN. The kernel itself loads",
			"missing nf_tables modules, so ProtectKernelModules= stays on."),
		serviceOpt("PrivateUsers", "no",
			"A capability inside a private user namespace does not count in the host's",
			"network namespace."),
		serviceOpt("RestrictAddressFamilies", "AF_NETLINK",
			"nftables rulesets travel over netlink; the unit opens no other socket."),
		serviceOpt("PrivateNetwork", "no",
			"The ruleset belongs in the host's network namespace."),
		serviceOpt("IPAddressDeny", "any"),
	)
	return append(d, installOpt("WantedBy", "sysinit.target",
		"sysinit.target, as for Debian's nftables.service, so the firewall loads",
		"whenever sysinit.target is reached: in multi-user.target and in rescue.target."))
}

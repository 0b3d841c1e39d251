package units

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/hostfs"
)

// Link is a symbolic link on the host, from Path to Target. Both are host
// paths; the target is not mapped under --root, so the link resolves on the
// host.
type Link struct {
	Path   string
	Target string
}

// EnableLinks returns the links that "systemctl enable" makes for files from
// their [Install] sections: one in UnitDir/TARGET.wants/ per WantedBy=, one in
// UnitDir/TARGET.requires/ per RequiredBy=, and one in UnitDir per Alias=,
// each pointing at the unit file in UnitDir. The order follows files and
// then the directives.
func EnableLinks(files []File) ([]Link, error) {
	var links []Link
	for _, f := range files {
		opts, err := unit.Deserialize(bytes.NewReader(f.Content))
		if err != nil {
			return nil, fmt.Errorf("parse unit %s: %w", f.Name, err)
		}
		for _, o := range opts {
			if o.Section != sectionInstall {
				continue
			}
			l, err := installLinks(f, o)
			if err != nil {
				return nil, err
			}
			links = append(links, l...)
		}
	}
	return links, nil
}

// installLinks returns the links of one [Install] directive of f.
func installLinks(f File, o *unit.UnitOption) ([]Link, error) {
	var links []Link
	// Unit names contain no spaces or quotes, so the list splits at spaces.
	for _, name := range strings.Fields(o.Value) {
		var p string
		switch o.Name {
		case "WantedBy":
			p = path.Join(UnitDir, name+".wants", f.Name)
		case "RequiredBy":
			p = path.Join(UnitDir, name+".requires", f.Name)
		case "Alias":
			p = path.Join(UnitDir, name)
		default:
			return nil, fmt.Errorf("enable unit %s: [Install] %s= is not supported", f.Name, o.Name)
		}
		links = append(links, Link{Path: p, Target: f.Path()})
	}
	return links, nil
}

// LinkChanges returns the changes that create the links in add and remove
// the links at the host paths in remove, removals first.
func LinkChanges(add []Link, remove []string) []change.Change {
	out := make([]change.Change, 0, len(add)+len(remove))
	for _, p := range remove {
		out = append(out, change.UnlinkChange(p))
	}
	for _, l := range add {
		out = append(out, change.LinkChange(l.Path, l.Target))
	}
	return out
}

// DebianBrokerUnit is the unit of Debian's mosquitto package. Enabled, it
// starts a second broker from /etc/mosquitto, outside garagectl's config.
const DebianBrokerUnit = "mosquitto.service"

// packageUnitDirs are the directories of the units that Debian packages
// install. /lib is a link to /usr/lib on a merged-/usr system, so either may
// contain the file in a root.
var packageUnitDirs = []string{"/lib/systemd/system", "/usr/lib/systemd/system"}

// BrokerMask is the state of Debian's mosquitto.service in a root, with the
// links that mask it.
type BrokerMask struct {
	// Installed reports whether the mosquitto package's unit file exists.
	Installed bool
	// EnableLinks lists the host paths of the links under UnitDir that
	// enable the unit; they are to be removed.
	EnableLinks []string
	// Mask is the link that masks the unit: UnitDir/mosquitto.service to
	// /dev/null. It is returned even when the package is not installed yet,
	// so that installing it later starts no second broker.
	Mask Link
}

// Enabled reports whether links enable the unit.
func (m BrokerMask) Enabled() bool { return len(m.EnableLinks) > 0 }

// MaskDebianBroker inspects the root and returns how to mask Debian's
// mosquitto.service there. Masking does not stop a running broker; the
// Conflicts= of garage-mosquitto.service does when that unit starts.
func MaskDebianBroker(root hostfs.Root) (BrokerMask, error) {
	m := BrokerMask{Mask: Link{Path: path.Join(UnitDir, DebianBrokerUnit), Target: os.DevNull}}
	for _, dir := range packageUnitDirs {
		_, err := os.Stat(root.Path(path.Join(dir, DebianBrokerUnit)))
		if err == nil {
			m.Installed = true
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return BrokerMask{}, fmt.Errorf("inspect unit %s: %w", DebianBrokerUnit, err)
		}
	}

	for _, pattern := range []string{"*.wants", "*.requires"} {
		glob := root.Path(path.Join(UnitDir, pattern, DebianBrokerUnit))
		found, err := filepath.Glob(glob)
		if err != nil {
			return BrokerMask{}, fmt.Errorf("find links to %s: %w", DebianBrokerUnit, err)
		}
		for _, p := range found {
			fi, err := os.Lstat(p)
			if err != nil {
				return BrokerMask{}, fmt.Errorf("inspect link %s: %w", p, err)
			}
			if fi.Mode().Type() == fs.ModeSymlink {
				m.EnableLinks = append(m.EnableLinks, root.HostPath(p))
			}
		}
	}
	return m, nil
}

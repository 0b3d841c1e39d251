package boot

import (
	"fmt"
	"testing"
	"time"
)

// history carries what one boot leaves for the checks of the next.
type history struct {
	lastSeq uint64 // the highest command sequence number seen so far
}

// TestBootProvisionedTree boots a tree that garagectl init provisioned, checks
// it from inside and from the host end of its veth, shuts it down, and boots
// the same tree a second time to check that everything holds again.
func TestBootProvisionedTree(t *testing.T) {
	hostTools := requireTools(t)
	checkTreeCacheOutsideRepo(t)
	base := debianTree(t)

	start := time.Now()
	s := newScenario(t, base)
	t.Logf("prepared the tree (copy, binaries, init, network) in %s", elapsedSince(start))

	h := &history{}
	for boot := 1; boot <= 2; boot++ {
		t.Run(fmt.Sprintf("boot %d", boot), func(t *testing.T) {
			began := time.Now()
			m := bootMachine(t, hostTools, s, boot)
			t.Logf("boot %d: systemd reported %q after %s", boot, m.state, elapsedSince(began))
			if boot == 1 {
				logResourceControl(t, s, m)
			}
			checkBoot(t, s, m, h)
			t.Run("orderly shutdown", func(t *testing.T) {
				if err := m.shutdown(); err != nil {
					t.Error(err)
				}
			})
			t.Run("daemon journals clean through shutdown", func(t *testing.T) {
				checkShutdownJournals(t, s)
			})
			t.Logf("boot %d: boot, checks and shutdown took %s", boot, elapsedSince(began))
		})
	}
	t.Logf("the whole scenario without the tree build took %s", elapsedSince(start))
}

func elapsedSince(start time.Time) time.Duration {
	return time.Since(start).Round(10 * time.Millisecond)
}

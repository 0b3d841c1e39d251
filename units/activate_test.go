package units

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/dbus"
	"github.com/google/go-cmp/cmp"
)

// fakeManager records each call as one string and completes every job with
// its result in results (default "done").
type fakeManager struct {
	calls []string
	// results maps "restart UNIT" or "reload UNIT" to a job result.
	results map[string]string
	// errs maps a call, as recorded, to the error it returns.
	errs map[string]error
}

func (f *fakeManager) record(call string) error {
	f.calls = append(f.calls, call)
	return f.errs[call]
}

func (f *fakeManager) ReloadContext(ctx context.Context) error {
	return f.record("daemon-reload")
}

func (f *fakeManager) EnableUnitFilesContext(ctx context.Context, files []string, runtime bool,
	force bool) (bool, []dbus.EnableUnitFileChange, error) {
	call := fmt.Sprintf("enable %s runtime=%v force=%v", strings.Join(files, " "), runtime, force)
	return false, nil, f.record(call)
}

func (f *fakeManager) RestartUnitContext(ctx context.Context, name, mode string,
	ch chan<- string) (int, error) {
	return f.job("restart "+name+" "+mode, "restart "+name, ch)
}

func (f *fakeManager) ReloadUnitContext(ctx context.Context, name, mode string,
	ch chan<- string) (int, error) {
	return f.job("reload "+name+" "+mode, "reload "+name, ch)
}

// job records call and, unless it fails, sends the job's result to ch. An
// empty result in results leaves the job running.
func (f *fakeManager) job(call, key string, ch chan<- string) (int, error) {
	if err := f.record(call); err != nil {
		return 0, err
	}
	result, ok := f.results[key]
	if !ok {
		result = "done"
	}
	if result != "" {
		ch <- result
	}
	return len(f.calls), nil
}

func TestActivateUnits(t *testing.T) {
	units := []string{FirewallUnit, BrokerUnit, GateUnit}
	enable := "enable garage-firewall.service garage-mosquitto.service garage-gate.service " +
		"runtime=false force=false"
	errBus := errors.New("bus closed")
	tests := []struct {
		name      string
		fake      *fakeManager
		wantCalls []string
		wantErr   string
	}{
		{
			name: "reload, enable, then restart in order",
			fake: &fakeManager{},
			wantCalls: []string{"daemon-reload", enable,
				"restart garage-firewall.service replace",
				"restart garage-mosquitto.service replace",
				"restart garage-gate.service replace"},
		},
		{
			name:      "failed daemon-reload stops before enabling",
			fake:      &fakeManager{errs: map[string]error{"daemon-reload": errBus}},
			wantCalls: []string{"daemon-reload"},
			wantErr:   "reload systemd: bus closed",
		},
		{
			name:      "failed enable restarts nothing",
			fake:      &fakeManager{errs: map[string]error{enable: errBus}},
			wantCalls: []string{"daemon-reload", enable},
			wantErr:   "enable units",
		},
		{
			name: "failed job stops the sequence",
			fake: &fakeManager{results: map[string]string{"restart garage-mosquitto.service": "failed"}},
			wantCalls: []string{"daemon-reload", enable,
				"restart garage-firewall.service replace",
				"restart garage-mosquitto.service replace"},
			wantErr: "restart garage-mosquitto.service: job failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ActivateUnits(t.Context(), tt.fake, units)
			if diff := cmp.Diff(tt.wantCalls, tt.fake.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ActivateUnits: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("ActivateUnits error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestActivateUnitsWrapsBusError(t *testing.T) {
	errBus := errors.New("bus closed")
	fake := &fakeManager{errs: map[string]error{"restart garage-gate.service replace": errBus}}
	err := ActivateUnits(t.Context(), fake, []string{GateUnit})
	if !errors.Is(err, errBus) {
		t.Errorf("ActivateUnits error %v does not wrap %v", err, errBus)
	}
}

func TestReloadUnitWaitsForJob(t *testing.T) {
	tests := []struct {
		name    string
		result  string
		cancel  bool
		wantErr error
		errText string
	}{
		{name: "done", result: "done"},
		{name: "job failed", result: "failed", errText: "reload garage-mosquitto.service: job failed"},
		{name: "context ends first", result: "", cancel: true, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			fake := &fakeManager{results: map[string]string{"reload " + BrokerUnit: tt.result}}

			err := ReloadUnit(ctx, fake, BrokerUnit)
			if diff := cmp.Diff([]string{"reload garage-mosquitto.service replace"}, fake.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("ReloadUnit error %v, want %v", err, tt.wantErr)
			case tt.errText != "" && (err == nil || err.Error() != tt.errText):
				t.Errorf("ReloadUnit error %v, want %q", err, tt.errText)
			case tt.wantErr == nil && tt.errText == "" && err != nil:
				t.Errorf("ReloadUnit: %v", err)
			}
		})
	}
}

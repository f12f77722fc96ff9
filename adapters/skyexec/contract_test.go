package skyexec_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skygate/skygate/adapters/skyexec"
	"github.com/skygate/skygate/ports/porttest"
)

// styles are the stub sky versions the contract runs against: the table and text forms
// of the API-server era, and `-o json`.
var styles = []string{"0.9.1", "0.12.0"}

// stubSky returns a Runner of the stub sky of version, with its own sky home and runs
// directory, and the hook that sets a cluster's scenario (SKYSTUB_HOME/scenarios/NAME).
func stubSky(t *testing.T, version string) porttest.RunnerSky {
	stub, supervisor := skyexec.Binaries()
	home := t.TempDir()
	env := append(os.Environ(), "SKYSTUB_HOME="+home, "SKYSTUB_DELAY_MS=5", "SKYSTUB_VERSION="+version)
	r := skyexec.New(skyexec.Config{
		Bin: stub, Env: env, OpsDir: filepath.Join(home, "ops"), SupervisorPath: supervisor, KillGrace: 300 * time.Millisecond,
	})
	return porttest.RunnerSky{Runner: r, SetScenario: func(cluster string, s porttest.RunnerScenario) {
		dir := filepath.Join(home, "scenarios")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, cluster), []byte(string(s)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}}
}

func TestRunnerContractWithStubSky(t *testing.T) {
	for _, version := range styles {
		t.Run(version, func(t *testing.T) {
			porttest.Runner(t, stubSky(t, version).Runner, "c1")
		})
	}
}

func TestRunnerRunsWithStubSky(t *testing.T) {
	for _, version := range styles {
		t.Run(version, func(t *testing.T) {
			porttest.RunnerRuns(t, func(t *testing.T) porttest.RunnerSky { return stubSky(t, version) })
		})
	}
}

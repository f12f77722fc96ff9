package skyexec_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/skygate/skygate/adapters/skyexec"
	"github.com/skygate/skygate/ports/porttest"
)

// TestRunnerContractWithStubSky holds the exec runner to the Runner contract, driving the
// project's stub sky (test/stubsky) of two output eras.
func TestRunnerContractWithStubSky(t *testing.T) {
	stub := filepath.Join(t.TempDir(), "sky")
	build := exec.Command("go", "build", "-o", stub, "../../test/stubsky")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the stub sky: %v\n%s", err, out)
	}
	for _, version := range []string{"0.9.1", "0.12.0"} {
		t.Run(version, func(t *testing.T) {
			env := append(os.Environ(), "SKYSTUB_VERSION="+version, "SKYSTUB_DELAY_MS=5", "SKYSTUB_HOME="+t.TempDir())
			porttest.Runner(t, skyexec.New(skyexec.Config{Bin: stub, Env: env}), "contract")
		})
	}
}

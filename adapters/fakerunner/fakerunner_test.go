package fakerunner_test

import (
	"testing"

	"github.com/skygate/skygate/adapters/fakerunner"
	"github.com/skygate/skygate/ports/porttest"
)

func TestRunnerContract(t *testing.T) {
	porttest.Runner(t, fakerunner.New(), "c1")
}

func TestRunnerRuns(t *testing.T) {
	porttest.RunnerRuns(t, func(t *testing.T) porttest.RunnerSky {
		r := fakerunner.New()
		return porttest.RunnerSky{Runner: r, SetScenario: func(cluster string, s porttest.RunnerScenario) {
			r.SetScenario(cluster, fakerunner.Scenario(s))
		}}
	})
}

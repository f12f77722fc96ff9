package fakerunner_test

import (
	"testing"

	"github.com/skygate/skygate/adapters/fakerunner"
	"github.com/skygate/skygate/ports/porttest"
)

func TestRunnerContract(t *testing.T) {
	porttest.Runner(t, fakerunner.New(), "c1")
}

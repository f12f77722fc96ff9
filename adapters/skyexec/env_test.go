package skyexec_test

import (
	"slices"
	"testing"

	"github.com/skygate/skygate/adapters/skyexec"
)

func TestChildEnvDropsSkygateSettings(t *testing.T) {
	got := skyexec.ChildEnv([]string{
		"HOME=/home/op", "SKYGATE_TOKEN=s3cret", "PATH=/usr/bin", "SKYGATE_TOKEN_FILE=/run/token",
		"AWS_SECRET_ACCESS_KEY=aws", "skygate_token=lower", "SKYGATE_=x", "SKYGATE_ADDR=0.0.0.0:8080",
		"NOT_SKYGATE_TOKEN=kept", "SKYGATEWAY=kept", "SKYPILOT_DEBUG=1", "=odd",
	})
	want := []string{"HOME=/home/op", "PATH=/usr/bin", "AWS_SECRET_ACCESS_KEY=aws", "NOT_SKYGATE_TOKEN=kept", "SKYGATEWAY=kept", "SKYPILOT_DEBUG=1", "=odd"}
	if !slices.Equal(got, want) {
		t.Fatalf("ChildEnv = %q, want %q", got, want)
	}
	if env := skyexec.ChildEnv(nil); env == nil || len(env) != 0 {
		t.Fatalf("ChildEnv(nil) = %#v, want an empty environment, not nil (nil would pass ours)", env)
	}
}

package integration

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// dockerProvider is the Docker connection shared by the suite, checked healthy in TestMain.
var dockerProvider *testcontainers.DockerProvider

// imageName is the skygate image built once for the whole suite. Its tag is unique per
// run, so that suites running at the same time on one engine never use each other's build.
var imageName string

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	// testcontainers-go must neither guess a gateway address nor pull its reaper image:
	// no registry is reachable, and published ports live on 127.0.0.1.
	for key, value := range map[string]string{
		"TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1",
		"TESTCONTAINERS_RYUK_DISABLED": "true",
	} {
		if _, set := os.LookupEnv(key); !set {
			os.Setenv(key, value)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	provider, err := testcontainers.NewDockerProvider()
	if err == nil {
		err = provider.Health(ctx)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the integration suite needs a running Docker engine (start one with `make docker-ready`): %v\n", err)
		return 1
	}
	defer provider.Close()
	dockerProvider = provider

	contextDir, err := os.MkdirTemp("", "skygate-image-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer os.RemoveAll(contextDir)
	imageName, err = buildImage(ctx, provider, contextDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: building the skygate image: %v\n", err)
		return 1
	}
	defer removeImage(provider, imageName)

	return m.Run()
}

// dockerfile makes a scratch image from the static binaries: skygate, the stub sky, and
// respawn as PID 1, which starts skygate again when it ends, as a host's service manager
// would. Scratch has no mkdir,
// so the writable directories come from the build context (rootfs/).
const dockerfile = `FROM scratch
COPY rootfs/ /
COPY skygate /skygate
COPY respawn /respawn
COPY sky /bin/sky
ENV PATH=/bin HOME=/home SKYGATE_ADDR=0.0.0.0:8080 SKYGATE_STATE_DIR=/data/state SKYSTUB_HOME=/data/sky
EXPOSE 8080
ENTRYPOINT ["/respawn", "/skygate", "serve"]
`

// buildImage compiles skygate and the stub sky into contextDir and builds the image.
func buildImage(ctx context.Context, provider *testcontainers.DockerProvider, contextDir string) (string, error) {
	moduleRoot, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	binaries := map[string]string{"skygate": "./app/cmd/skygate", "sky": "./test/stubsky", "respawn": "./test/integration/respawn"}
	for name, pkg := range binaries {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(contextDir, name), pkg)
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	// Docker copies only files, so each directory the service writes to carries a
	// placeholder; /tmp is there for anything that asks the OS for a temp dir. The stub's
	// argv log starts empty, so that reading it never depends on sky having run.
	for _, dir := range []string{"data/state", "data/sky", "home", "tmp"} {
		path := filepath.Join(contextDir, "rootfs", dir)
		if err := os.MkdirAll(path, 0o777); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(path, ".keep"), nil, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(contextDir, "rootfs", skyLogPath), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(contextDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", err
	}
	return provider.BuildImage(ctx, &testcontainers.ContainerRequest{
		FromDockerfile: testcontainers.FromDockerfile{
			Context:        contextDir,
			Repo:           "skygate-integration",
			Tag:            strings.ToLower(rand.Text()),
			KeepImage:      true,
			BuildLogWriter: io.Discard,
		},
	})
}

// removeImage deletes the suite's image once every container is gone.
func removeImage(provider *testcontainers.DockerProvider, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := provider.Client().ImageRemove(ctx, name, client.ImageRemoveOptions{PruneChildren: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "warning: removing image %s: %v\n", name, err)
	}
}

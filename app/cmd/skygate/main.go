// Command skygate is the HTTP service that owns cloud clusters' lifecycles through the sky
// CLI. `skygate serve` runs it; `skygate openapi` prints its OpenAPI document.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/skygate/skygate/adapters/clock"
	"github.com/skygate/skygate/adapters/httpapi"
	"github.com/skygate/skygate/adapters/membus"
	"github.com/skygate/skygate/adapters/metrics"
	"github.com/skygate/skygate/adapters/skyexec"
	"github.com/skygate/skygate/adapters/sqlitestore"
	"github.com/skygate/skygate/app"
	"github.com/skygate/skygate/core"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		err := serve(args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		default:
			fmt.Fprintln(stderr, "skygate: "+err.Error())
			return 1
		}
	case "supervise":
		// Hidden: the supervisor of one mutating sky run (see skyexec.Supervise).
		return skyexec.Supervise(args[1:])
	case "openapi":
		doc, err := httpapi.OpenAPI(version).YAML()
		if err != nil {
			fmt.Fprintln(stderr, "skygate: "+err.Error())
			return 1
		}
		_, _ = stdout.Write(doc)
		return 0
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "skygate "+version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "skygate: unknown command %q\n%s\n", args[0], usage)
	return 2
}

const usage = `usage: skygate serve [flags]   run the service (skygate serve -h lists the flags)
       skygate openapi          print the OpenAPI document (YAML)
       skygate version          print the version`

// defaultSkyNice is the nice value of sky runs unless --sky-nice says otherwise: the
// runs of a fleet starting at once (each a Python process of 100+ MB) yield the CPU
// to skygate's requests and event streams, and take what they leave.
const defaultSkyNice = 10

// settings are the serve flags, each with an environment variable.
type settings struct {
	addr, skyBin, stateDir, clusterName, token, configPath, logLevel, corsOrigins string
	refresh, poll, checkTTL, shutdownGrace, killGrace                             time.Duration
	launchTimeout, opTimeout, statusTimeout, checkTimeout                         time.Duration
	maxClusters, maxSkyProcs, skyNice                                             int
	tokenFile, allowedHosts                                                       string
	allowUnauthenticated                                                          bool
	maxStreams                                                                    int
}

func parseSettings(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	// Errors are reported once, in one line, by the caller; only -h prints the flags.
	fs.SetOutput(io.Discard)
	var envErr error
	str := func(p *string, name, env, def, help string) {
		if v, ok := os.LookupEnv(env); ok {
			def = v
		}
		fs.StringVar(p, name, def, help+" (env "+env+")")
	}
	// fromEnv sets a flag that is not a string from its environment variable.
	fromEnv := func(name, env, want string) {
		if v, ok := os.LookupEnv(env); ok && envErr == nil {
			if err := fs.Set(name, v); err != nil {
				envErr = fmt.Errorf("invalid %s=%q: want %s", env, v, want)
			}
		}
	}
	dur := func(p *time.Duration, name, env string, def time.Duration, help string) {
		fs.DurationVar(p, name, def, help+" (env "+env+")")
		fromEnv(name, env, "a duration such as 30s or 5m")
	}
	str(&s.addr, "addr", "SKYGATE_ADDR", "127.0.0.1:8080", "address to listen on")
	str(&s.skyBin, "sky-bin", "SKYGATE_SKY_BIN", "sky", "sky executable, looked up on PATH at each use")
	str(&s.stateDir, "state-dir", "SKYGATE_STATE_DIR", "./.skygate", "directory for the cluster record, events and task files")
	str(&s.clusterName, "cluster-name", "SKYGATE_CLUSTER_NAME", "skygate", "name of the managed cluster")
	str(&s.token, "token", "SKYGATE_TOKEN", "", "bearer token required on /cluster/*, /clusters/*, /events and /metrics (empty: no auth); prefer --token-file")
	str(&s.tokenFile, "token-file", "SKYGATE_TOKEN_FILE", "", "file holding the bearer token (a trailing newline is ignored)")
	fs.BoolVar(&s.allowUnauthenticated, "allow-unauthenticated", false, "serve on a non-loopback address without a token (env SKYGATE_ALLOW_UNAUTHENTICATED)")
	fromEnv("allow-unauthenticated", "SKYGATE_ALLOW_UNAUTHENTICATED", "true or false")
	str(&s.allowedHosts, "allowed-hosts", "SKYGATE_ALLOWED_HOSTS", "", "comma-separated host names requests may name besides loopback ones; a leading dot allows subdomains")
	fs.IntVar(&s.maxStreams, "max-streams", httpapi.DefaultMaxStreams, "most event streams open at once (env SKYGATE_MAX_STREAMS)")
	fromEnv("max-streams", "SKYGATE_MAX_STREAMS", "a whole number")
	str(&s.configPath, "config", "SKYGATE_CONFIG", "", "task template YAML (setup, run, ports, envs, disk_size, image_id, autostop_minutes, cloud, region, instance_type)")
	str(&s.logLevel, "log-level", "SKYGATE_LOG_LEVEL", "info", "debug, info, warn or error")
	str(&s.corsOrigins, "cors-origins", "SKYGATE_CORS_ORIGINS", "", "comma-separated browser origins allowed by CORS")
	dur(&s.refresh, "refresh-interval", "SKYGATE_REFRESH_INTERVAL", 60*time.Second, "background refresh period")
	dur(&s.poll, "poll-interval", "SKYGATE_POLL_INTERVAL", 5*time.Second, "poll period while recovering an operation cut off by a restart")
	dur(&s.checkTTL, "check-ttl", "SKYGATE_CHECK_TTL", 5*time.Minute, "how long a sky check result is reused")
	dur(&s.shutdownGrace, "shutdown-grace", "SKYGATE_SHUTDOWN_GRACE", 20*time.Second, "how long shutdown waits for a running operation")
	dur(&s.killGrace, "kill-grace", "SKYGATE_KILL_GRACE", 10*time.Second, "time between SIGTERM and SIGKILL of a cancelled sky")
	dur(&s.launchTimeout, "launch-timeout", "SKYGATE_LAUNCH_TIMEOUT", 60*time.Minute, "sky launch timeout")
	dur(&s.opTimeout, "op-timeout", "SKYGATE_OP_TIMEOUT", 30*time.Minute, "sky stop/start/down timeout")
	dur(&s.statusTimeout, "status-timeout", "SKYGATE_STATUS_TIMEOUT", 2*time.Minute, "sky status timeout")
	dur(&s.checkTimeout, "check-timeout", "SKYGATE_CHECK_TIMEOUT", 5*time.Minute, "sky check timeout")
	num := func(p *int, name, env string, def int, help string) {
		fs.IntVar(p, name, def, help+" (env "+env+")")
		if v, ok := os.LookupEnv(env); ok && envErr == nil {
			if err := fs.Set(name, v); err != nil {
				envErr = fmt.Errorf("invalid %s=%q: want a whole number", env, v)
			}
		}
	}
	num(&s.maxClusters, "max-clusters", "SKYGATE_MAX_CLUSTERS", 100, "most clusters that may exist at once")
	num(&s.maxSkyProcs, "max-sky-procs", "SKYGATE_MAX_SKY_PROCS", 4, "most mutating sky runs at once over the fleet")
	num(&s.skyNice, "sky-nice", "SKYGATE_SKY_NICE", defaultSkyNice, "nice value (0 to 19) of every sky process and run supervisor; 0 runs them at skygate's priority")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: skygate serve [flags]")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
		}
		return s, err
	}
	if envErr != nil {
		return s, envErr
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if s.maxStreams < 1 {
		return s, fmt.Errorf("invalid --max-streams %d: want at least 1", s.maxStreams)
	}
	if err := core.ValidateClusterName("cluster-name", s.clusterName); err != nil {
		de, _ := core.AsError(err)
		return s, fmt.Errorf("invalid --cluster-name: %s", de.Message)
	}
	if s.maxClusters < 1 || s.maxSkyProcs < 1 {
		return s, fmt.Errorf("--max-clusters and --max-sky-procs must be at least 1")
	}
	if s.skyNice < 0 || s.skyNice > 19 {
		return s, fmt.Errorf("invalid --sky-nice %d: want 0 to 19", s.skyNice)
	}
	return s, nil
}

// loadTemplate reads the task template; a missing path means the empty template.
func loadTemplate(path string) (core.SkyPilotConfig, error) {
	var cfg core.SkyPilotConfig
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("reading config: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		// yaml.v3 lists one problem per line; the service reports one line.
		msg := strings.ReplaceAll(err.Error(), " in type core.SkyPilotConfig", "")
		return cfg, fmt.Errorf("config %s: %s", path, strings.Join(strings.Fields(msg), " "))
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// gcPercent is the service's GOGC unless the environment sets one. At Go's default of
// 100 the heap of an idle service is a few MB, and the garbage of the answers to a front
// end's polls filled it twenty times a second (GODEBUG=gctrace=1): a collection every
// 50 ms, each stopping the world for up to 2.5 ms under load. In the load harness, 200
// took status throughput from 0.80 to 0.87 of a bare server at 32 connections and from
// 0.74 to 0.89 at 64, and an idle event stream's resident memory from about 15 to 17 KiB;
// 400 gained a little more throughput for 18 KiB a stream, too near its 20 KiB bound.
const gcPercent = 200

func serve(args []string, stdout, stderr io.Writer) error {
	s, err := parseSettings(args, stderr)
	if err != nil {
		return err
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	level, err := zerolog.ParseLevel(s.logLevel)
	if err != nil {
		return fmt.Errorf("invalid log level %q", s.logLevel)
	}
	logOut := newLogWriter(stderr)
	defer logOut.Close()
	log := zerolog.New(logOut).Level(level).With().Timestamp().Logger()
	template, err := loadTemplate(s.configPath)
	if err != nil {
		return err
	}
	token, err := loadToken(s)
	if err != nil {
		return err
	}
	origins, err := httpapi.ParseOrigins(s.corsOrigins)
	if err != nil {
		return fmt.Errorf("--cors-origins: %w", err)
	}
	allowedHosts, err := httpapi.ParseHosts(s.allowedHosts)
	if err != nil {
		return fmt.Errorf("--allowed-hosts: %w", err)
	}
	store, err := sqlitestore.Open(s.stateDir, sqlitestore.Options{LegacyCluster: s.clusterName})
	if err != nil {
		return err
	}
	defer store.Close()
	listener, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.addr, err)
	}
	loopback := isLoopback(listener.Addr())
	if !loopback && token == "" && !s.allowUnauthenticated {
		listener.Close()
		return fmt.Errorf("refusing to serve on %s without a token, since anyone who can reach it could launch clusters: give --token-file, or --allow-unauthenticated", listener.Addr())
	}
	bus := membus.New(membus.Options{})
	sky := skyexec.New(skyexec.Config{
		Bin: s.skyBin, KillGrace: s.killGrace, Env: skyexec.ChildEnv(os.Environ()), OpsDir: filepath.Join(s.stateDir, "ops"),
		Nice: s.skyNice, Runs: s.maxSkyProcs,
		Timeouts: skyexec.Timeouts{Launch: s.launchTimeout, Stop: s.opTimeout, Start: s.opTimeout, Down: s.opTimeout,
			Status: s.statusTimeout, IP: s.statusTimeout, Check: s.checkTimeout},
	})
	var svc *app.Service
	meter := metrics.New(metrics.Sources{
		Clusters:        store.Clusters,
		EventsPublished: bus.Published,
		StreamsDropped:  bus.Dropped,
		CheckAge:        func() (time.Duration, bool) { return svc.CheckAge() },
	})
	svc = app.New(app.Config{
		DefaultCluster: s.clusterName, Template: template, CheckTTL: s.checkTTL, RefreshInterval: s.refresh,
		PollInterval: s.poll, RecoveryTimeout: s.launchTimeout, MaxClusters: s.maxClusters, MaxSkyProcs: s.maxSkyProcs,
	}, meter.Runner(sky), store, bus, clock.System{}, app.DirTaskFiles(filepath.Join(s.stateDir, "tasks")), log)
	// Event streams never go idle by themselves, and run outside http.Server's tracking:
	// shutdown ends them through streams.
	streams, endStreams := context.WithCancel(context.Background())
	handler := httpapi.New(svc, httpapi.Options{Token: token, CORSOrigins: origins, Logger: log, Version: version, Done: streams.Done(),
		Loopback: loopback, AllowedHosts: allowedHosts, MaxStreams: s.maxStreams, Metrics: meter.Handler(), ObserveRequest: meter.ObserveRequest})
	server := newHTTPServer(handler)
	server.RegisterOnShutdown(endStreams)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	svc.Resume()
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	fmt.Fprintf(stdout, "skygate listening on http://%s\n", listener.Addr())
	log.Info().Str("addr", listener.Addr().String()).Str("state_dir", s.stateDir).Str("default_cluster", s.clusterName).Bool("auth", token != "").Msg("skygate started")
	if !loopback && token == "" {
		log.Warn().Str("addr", listener.Addr().String()).Msg("serving without a token on a non-loopback address (--allow-unauthenticated): anyone who can reach it can launch, stop and destroy clusters")
	}

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	// From here a second SIGTERM or SIGINT has its default effect: the process ends at
	// once. Running sky operations belong to their supervisors either way.
	stop()
	log.Info().Msg("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.shutdownGrace)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		server.Close()
	}
	svc.Shutdown(shutdownCtx)
	log.Info().Msg("stopped")
	return nil
}

// Bounds on what a client may make the server hold: slow or huge headers, a body that
// never ends, an idle keep-alive connection. Event streams leave the server's hands
// once their headers are written, so ReadTimeout does not end them.
const (
	maxHeaderBytes    = 64 << 10
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

func newHTTPServer(handler http.Handler) *http.Server {
	return &http.Server{Handler: handler, MaxHeaderBytes: maxHeaderBytes,
		ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout, IdleTimeout: idleTimeout}
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// maxTokenBytes bounds what is read of the token file.
const maxTokenBytes = 4 << 10

// loadToken returns the bearer token: --token, or the content of --token-file without
// its trailing newline. Nothing it reports shows the token.
func loadToken(s settings) (string, error) {
	token := s.token
	if s.tokenFile != "" {
		if token != "" {
			return "", errors.New("both a token (--token, SKYGATE_TOKEN) and a token file (--token-file, SKYGATE_TOKEN_FILE) are set: give one")
		}
		f, err := os.Open(s.tokenFile)
		if err != nil {
			return "", fmt.Errorf("reading the token file: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
		f.Close()
		switch {
		case err != nil:
			return "", fmt.Errorf("reading the token file: %w", err)
		case len(data) > maxTokenBytes:
			return "", fmt.Errorf("token file %s is longer than %d bytes", s.tokenFile, maxTokenBytes)
		}
		if token = strings.TrimRight(string(data), "\r\n"); token == "" {
			return "", fmt.Errorf("token file %s is empty", s.tokenFile)
		}
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", errors.New("the token contains spaces or control characters, which a bearer token cannot carry")
	}
	return token, nil
}

// Package httpapi exposes the use cases over HTTP: Huma on chi, every JSON answer in the
// ResultEnvelope, the event stream over Server-Sent Events, and the OpenAPI document.
// Handlers translate and call the use case; they decide nothing.
package httpapi

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/danielgtaylor/huma/v2/sse"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog"

	"github.com/skygate/skygate/adapters/httpapi/console"
	"github.com/skygate/skygate/app"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// UseCases is what the HTTP API needs of the application.
type UseCases interface {
	// DefaultCluster is the cluster of the seed contract's /cluster/* routes.
	DefaultCluster() string
	Launch(ctx context.Context, name string, req core.LaunchRequest) (app.Accepted, error)
	Stop(ctx context.Context, name string) (app.Accepted, error)
	Start(ctx context.Context, name string) (app.Accepted, error)
	Destroy(ctx context.Context, name string) (app.Accepted, error)
	Status(ctx context.Context, name string, refresh bool) (core.Cluster, error)
	Clusters(ctx context.Context, refresh bool) ([]app.ClusterView, error)
	Check(ctx context.Context, refresh bool) (app.CheckInfo, error)
	// Events subscribes to one cluster's events, or every cluster's when cluster is "".
	Events(ctx context.Context, cluster string, after *uint64) (app.Replay, ports.Subscription, error)
	// Backlog is the next page of kept events after an id, for a replay with more.
	Backlog(ctx context.Context, cluster string, after uint64) ([]core.Event, error)
}

// Options configures the HTTP API.
type Options struct {
	// Token, when set, is the bearer token every /cluster/*, /clusters/*, /events and
	// /metrics route requires.
	Token string
	// CORSOrigins lists the browser origins (scheme://host[:port]) allowed to call the
	// API; they are also trusted by the cross-origin check.
	CORSOrigins []string
	// Loopback says the server listens on a loopback address: a request's Host must then
	// be a loopback name or one of AllowedHosts (DNS rebinding).
	Loopback bool
	// AllowedHosts are further names a request's Host may carry (a leading dot allows
	// subdomains). When set, the Host check applies on any listener.
	AllowedHosts []string
	// MaxStreams bounds the open event streams (default DefaultMaxStreams).
	MaxStreams int
	// KeepAlive is the period of the event stream's comment lines (default 15 s).
	KeepAlive time.Duration
	// Done, when closed, ends every open event stream (at shutdown: streams are not
	// tracked by http.Server once they run on their own).
	Done   <-chan struct{}
	Logger zerolog.Logger
	// Version is the service version shown in the OpenAPI document.
	Version string
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// ObserveRequest, when set, is told of every answered request (request metrics).
	ObserveRequest func(r *http.Request, status int, elapsed time.Duration)
}

const eventsPath = "/cluster/events"

// MaxBodyBytes bounds request bodies: a body of at most this many bytes is read.
const MaxBodyBytes = 64 << 10

// bodyReadTimeout bounds how long a request's body may take to arrive, as the server's
// ReadTimeout does the whole request.
const bodyReadTimeout = 30 * time.Second

// takesBody sets the limits of an operation that reads a JSON body. Huma refuses a body
// that fills its limit, so the limit is one byte past the largest body taken.
func takesBody(op huma.Operation) huma.Operation {
	op.MaxBodyBytes = MaxBodyBytes + 1
	op.BodyReadTimeout = bodyReadTimeout
	return op
}

// operationInput is the input of stop, start and destroy of the default cluster.
type operationInput struct {
	Body *NoBody
}

var hooksOnce sync.Once

// New returns the HTTP handler serving the API.
func New(uc UseCases, opts Options) http.Handler {
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = 15 * time.Second
	}
	router := chi.NewRouter()
	router.Use(observeRequests(opts.Logger, opts.ObserveRequest), recoverPanics(opts.Logger))
	// CORS comes before every refusal, so a front end can read why it was refused.
	if len(opts.CORSOrigins) > 0 {
		router.Use(corsFor(opts.CORSOrigins))
	}
	router.Use(guards(opts)...)
	router.Use(middleware.GetHead, keepWriter)
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeEnvelope(w, r, newErrorEnvelope(r.Context(), http.StatusNotFound, "no route for "+r.URL.Path))
	}
	router.NotFound(notFound)
	router.MethodNotAllowed(methodNotAllowed(router, notFound))
	console.Mount(router)
	if opts.Metrics != nil {
		router.Method(http.MethodGet, "/metrics", opts.Metrics)
	}
	api := humachi.New(router, config(opts.Version))
	register(api, uc, opts)
	serveSchemas(router, api.OpenAPI().Components.Schemas)
	return router
}

// OpenAPI returns the API's OpenAPI document.
func OpenAPI(version string) *huma.OpenAPI {
	api := humachi.New(chi.NewRouter(), config(version))
	register(api, nil, Options{})
	return api.OpenAPI()
}

func config(version string) huma.Config {
	hooksOnce.Do(func() {
		installErrorEnvelope()
		huma.DefaultArrayNullable = false
		// encoding/json matches field names regardless of case, and Huma's validation
		// follows it unless told not to: {"Cloud": "gcp"} would be taken for "cloud", and
		// of {"cloud": "aws", "Cloud": "gcp"} the last would win.
		huma.ValidateStrictCasing = true
	})
	if version == "" {
		version = "1.0.0"
	}
	cfg := huma.DefaultConfig("skygate", version)
	cfg.Info.Description = "Drives one cloud cluster through the SkyPilot CLI: launch, stop, start, destroy, status, credential check, and live progress over Server-Sent Events. Every JSON answer is a ResultEnvelope."
	cfg.CreateHooks = nil // no $schema links in bodies
	cfg.SchemasPath = ""  // served by serveSchemas, which knows a 404
	cfg.Formats = map[string]huma.Format{"application/json": jsonFormat, "json": jsonFormat}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "Required on /cluster/*, /clusters/*, /events and /metrics when skygate runs with a token. Event streams also accept ?access_token=."},
	}
	return cfg
}

var bearer = []map[string][]string{{"bearer": {}}}

func register(api huma.API, uc UseCases, opts Options) {
	statuses, frames := &statusCache{}, newStreamFrames()
	lifecycle := func(id, path, summary string, errs []int, call func(ctx context.Context) (app.Accepted, error)) {
		huma.Register(api, takesBody(huma.Operation{
			OperationID: id, Method: http.MethodPost, Path: path, Summary: summary, Tags: []string{"cluster"},
			DefaultStatus: http.StatusAccepted, Errors: errs, Security: bearer,
		}), func(ctx context.Context, _ *operationInput) (*acceptedOutput, error) {
			return accepted(ctx, func() (app.Accepted, error) { return call(ctx) })
		})
	}

	huma.Register(api, takesBody(huma.Operation{
		OperationID: "launchCluster", Method: http.MethodPost, Path: "/cluster/launch", Tags: []string{"cluster"},
		Summary:       "Launch the cluster",
		Description:   "Starts provisioning in the background and answers at once; follow GET /cluster/events. An empty body means all auto.",
		DefaultStatus: http.StatusAccepted, Security: bearer,
		Errors: []int{400, 401, 409, 413, 415, 422, 424, 500, 502},
	}), func(ctx context.Context, in *launchInput) (*acceptedOutput, error) {
		return accepted(ctx, func() (app.Accepted, error) { return uc.Launch(ctx, uc.DefaultCluster(), in.Body.request()) })
	})
	lifecycle("stopCluster", "/cluster/stop", "Stop the running cluster (keeps its disk)", []int{400, 401, 404, 409, 413, 415, 422, 500}, func(ctx context.Context) (app.Accepted, error) { return uc.Stop(ctx, uc.DefaultCluster()) })
	lifecycle("startCluster", "/cluster/start", "Start the stopped cluster", []int{400, 401, 404, 409, 413, 415, 422, 500}, func(ctx context.Context) (app.Accepted, error) { return uc.Start(ctx, uc.DefaultCluster()) })
	lifecycle("destroyCluster", "/cluster/destroy", "Destroy the cluster and all its cloud resources", []int{400, 401, 404, 409, 413, 415, 422, 500}, func(ctx context.Context) (app.Accepted, error) { return uc.Destroy(ctx, uc.DefaultCluster()) })

	huma.Register(api, huma.Operation{
		OperationID: "getClusterStatus", Method: http.MethodGet, Path: "/cluster/status", Tags: []string{"cluster"},
		Summary:     "Current cluster state",
		Description: "Answers from skygate's record without running sky; refresh=true first asks sky (sky status --refresh).",
		Security:    bearer, Errors: []int{401, 422, 424, 500, 502},
	}, func(ctx context.Context, in *RefreshParam) (*statusOutput, error) {
		rec, err := uc.Status(ctx, uc.DefaultCluster(), in.Refresh)
		if err != nil {
			return nil, fail(ctx, err)
		}
		return statusAnswer(ctx, statuses, rec)
	})

	huma.Register(api, huma.Operation{
		OperationID: "checkCluster", Method: http.MethodGet, Path: "/cluster/check", Tags: []string{"cluster"},
		Summary:     "SkyPilot installation and cloud credentials",
		Description: "The result of sky check, cached for 5 minutes; refresh=true runs it again.",
		Security:    bearer, Errors: []int{401, 422, 500, 502},
	}, func(ctx context.Context, in *RefreshParam) (*checkOutput, error) {
		info, err := uc.Check(ctx, in.Refresh)
		if err != nil {
			return nil, fail(ctx, err)
		}
		return &checkOutput{Body: success(ctx, checkResult(info))}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "health", Method: http.MethodGet, Path: "/healthz", Summary: "Liveness", Tags: []string{"service"},
		Errors: []int{500},
	}, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
		return &healthOutput{Body: success(ctx, HealthResult{Status: "ok"})}, nil
	})

	sse.Register(api, huma.Operation{
		OperationID: "clusterEvents", Method: http.MethodGet, Path: eventsPath, Tags: []string{"cluster"},
		Summary:     "Live lifecycle events (Server-Sent Events)",
		Description: streamDescription,
		Security:    bearer, Errors: []int{401, 422, 500},
	}, map[string]any{
		string(core.EventProgress): ProgressEventData{},
		string(core.EventComplete): CompleteEventData{},
		string(core.EventError):    ErrorEventData{},
		string(core.EventStatus):   StatusEventData{},
	}, func(ctx context.Context, in *eventsInput, _ sse.Sender) {
		openStream(ctx, uc, frames, uc.DefaultCluster(), false, &in.StreamParams, opts)
	})
	registerFleet(api, uc, opts, statuses, frames)
	tidySchemas(api.OpenAPI())
	documentRefusals(api.OpenAPI())
}

// tidySchemas makes the document as precise as the contract's TypeScript where Huma's
// reflection cannot: an error envelope has at least one error, statuses are one named
// enum, and every stream event has an id.
func tidySchemas(doc *huma.OpenAPI) {
	schemas := doc.Components.Schemas.Map()
	statuses := make([]any, 0, len(core.AllStatuses()))
	for _, s := range core.AllStatuses() {
		statuses = append(statuses, string(s))
	}
	schemas["ClusterStatus"] = &huma.Schema{Type: huma.TypeString, Enum: statuses, Description: "The cluster's lifecycle status."}
	statusRef := &huma.Schema{Ref: "#/components/schemas/ClusterStatus"}
	if errs := schemas["ErrorEnvelope"].Properties["errors"]; errs != nil {
		one := 1
		errs.MinProperties = &one // an error answer always says what went wrong
	}
	for name, s := range schemas {
		if name == "StatusResult" || name == "StatusEventData" || name == "ClusterRecord" || name == "FleetStatusEventData" {
			s.Properties["status"] = statusRef
		}
	}
	for _, path := range []string{eventsPath, "/clusters/{name}/events", "/events"} {
		events := doc.Paths[path].Get.Responses["200"].Content["text/event-stream"].Schema.Items
		if variants, ok := events.Extensions["oneOf"].([]*huma.Schema); ok {
			for _, v := range variants {
				if !slices.Contains(v.Required, "id") {
					v.Required = append(v.Required, "id")
				}
				delete(v.Properties, "retry") // skygate never sends retry
			}
		}
	}
}

type launchInput struct {
	Body *LaunchBody
}

// RefreshParam asks for a fresh answer from sky.
type RefreshParam struct {
	Refresh bool `query:"refresh" doc:"Ask sky now instead of answering from the cache."`
}

// StreamParams is what every event stream takes.
type StreamParams struct {
	LastEventID string `header:"Last-Event-ID" pattern:"^[0-9]{1,19}$" doc:"Resume after this event id; an id the service never issued counts as none."`
	After       string `query:"after" pattern:"^[0-9]{1,19}$" doc:"The same as Last-Event-ID, for a first connection that cannot send headers (EventSource); after=0 replays every kept event. Last-Event-ID wins when both are given, as on an EventSource reconnect."`
	AccessToken string `query:"access_token" doc:"The bearer token, for clients such as EventSource that cannot set headers."`
}

type eventsInput struct {
	StreamParams
}

const streamDescription = "Every event has an id (growing across restarts), an event name and one JSON data line. " +
	"A new connection first gets the events of the operation in flight; with Last-Event-ID (or ?after=), every kept event after it " +
	"(an id the service never issued counts as none). A comment line is sent every 15 s."

type acceptedOutput struct{ Body Envelope[AcceptedResult] }
type statusOutput struct{ Body Envelope[StatusResult] }
type checkOutput struct{ Body Envelope[CheckResult] }
type healthOutput struct{ Body Envelope[HealthResult] }

package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/sse"

	"github.com/skygate/skygate/app"
	"github.com/skygate/skygate/core"
)

// The fleet routes: the same envelope, codes, transition table and stream rules as
// /cluster/*, for any cluster named in the path.

// NameParam is the cluster named in the path.
type NameParam struct {
	Name string `path:"name" maxLength:"63" doc:"Cluster name, as SkyPilot allows it: a letter, then letters, digits, '-', '_' or '.', ending with a letter or digit." example:"team-a"`
}

type fleetLaunchInput struct {
	NameParam
	Body *LaunchBody
}

type fleetOperationInput struct {
	NameParam
	Body *NoBody
}

type fleetStatusInput struct {
	NameParam
	RefreshParam
}

type fleetEventsInput struct {
	NameParam
	StreamParams
}

type clustersOutput struct{ Body Envelope[[]ClusterRecord] }

func registerFleet(api huma.API, uc UseCases, opts Options, statuses *statusCache, frames *streamFrames) {
	listing := &listCache{}
	huma.Register(api, huma.Operation{
		OperationID: "listClusters", Method: http.MethodGet, Path: "/clusters", Tags: []string{"fleet"},
		Summary:     "Every managed cluster",
		Description: "Every cluster that exists, and the default cluster always (default: true, even at no_server), sorted by name. refresh=true first asks sky about all of them with one sky status --refresh.",
		Security:    bearer, Errors: []int{401, 422, 424, 500, 502},
	}, func(ctx context.Context, in *RefreshParam) (*clustersOutput, error) {
		views, err := uc.Clusters(ctx, in.Refresh)
		if err != nil {
			return nil, fail(ctx, err)
		}
		records, err := listing.encode(views)
		if err != nil {
			return nil, err
		}
		return &clustersOutput{Body: successEncoded[[]ClusterRecord](ctx, records)}, nil
	})

	huma.Register(api, takesBody(huma.Operation{
		OperationID: "launchNamedCluster", Method: http.MethodPost, Path: "/clusters/{name}/launch", Tags: []string{"fleet"},
		Summary:       "Launch a cluster",
		Description:   "Starts provisioning in the background and answers at once; follow GET /clusters/{name}/events. An empty body means all auto.",
		DefaultStatus: http.StatusAccepted, Security: bearer,
		Errors: []int{400, 401, 409, 413, 415, 422, 424, 500, 502},
	}), func(ctx context.Context, in *fleetLaunchInput) (*acceptedOutput, error) {
		return accepted(ctx, func() (app.Accepted, error) { return uc.Launch(ctx, in.Name, in.Body.request()) })
	})
	for _, r := range []struct {
		id, verb, summary string
		call              func(ctx context.Context, name string) (app.Accepted, error)
	}{
		{"stopNamedCluster", "stop", "Stop a running cluster (keeps its disk)", func(ctx context.Context, name string) (app.Accepted, error) { return uc.Stop(ctx, name) }},
		{"startNamedCluster", "start", "Start a stopped cluster", func(ctx context.Context, name string) (app.Accepted, error) { return uc.Start(ctx, name) }},
		{"destroyNamedCluster", "destroy", "Destroy a cluster and all its cloud resources", func(ctx context.Context, name string) (app.Accepted, error) { return uc.Destroy(ctx, name) }},
	} {
		huma.Register(api, takesBody(huma.Operation{
			OperationID: r.id, Method: http.MethodPost, Path: "/clusters/{name}/" + r.verb, Summary: r.summary, Tags: []string{"fleet"},
			DefaultStatus: http.StatusAccepted, Errors: []int{400, 401, 404, 409, 413, 415, 422, 500}, Security: bearer,
		}), func(ctx context.Context, in *fleetOperationInput) (*acceptedOutput, error) {
			return accepted(ctx, func() (app.Accepted, error) { return r.call(ctx, in.Name) })
		})
	}

	huma.Register(api, huma.Operation{
		OperationID: "getNamedClusterStatus", Method: http.MethodGet, Path: "/clusters/{name}/status", Tags: []string{"fleet"},
		Summary:     "A cluster's state",
		Description: "Answers from skygate's record without running sky (no_server for a name skygate does not manage); refresh=true first asks sky, adopting a cluster sky has under the name.",
		Security:    bearer, Errors: []int{401, 422, 424, 500, 502},
	}, func(ctx context.Context, in *fleetStatusInput) (*statusOutput, error) {
		rec, err := uc.Status(ctx, in.Name, in.Refresh)
		if err != nil {
			return nil, fail(ctx, err)
		}
		return statusAnswer(ctx, statuses, rec)
	})

	fleetEvents := map[string]any{
		string(core.EventProgress): FleetProgressEventData{},
		string(core.EventComplete): FleetCompleteEventData{},
		string(core.EventError):    FleetErrorEventData{},
		string(core.EventStatus):   FleetStatusEventData{},
	}
	sse.Register(api, huma.Operation{
		OperationID: "namedClusterEvents", Method: http.MethodGet, Path: "/clusters/{name}/events", Tags: []string{"fleet"},
		Summary:     "A cluster's live lifecycle events (Server-Sent Events)",
		Description: streamDescription,
		Security:    bearer, Errors: []int{401, 422, 500},
	}, fleetEvents, func(ctx context.Context, in *fleetEventsInput, _ sse.Sender) {
		openStream(ctx, uc, frames, in.Name, true, &in.StreamParams, opts)
	})
	sse.Register(api, huma.Operation{
		OperationID: "fleetEvents", Method: http.MethodGet, Path: "/events", Tags: []string{"fleet"},
		Summary:     "Every cluster's live lifecycle events (Server-Sent Events)",
		Description: streamDescription + " Each event names its cluster; ids are global across the fleet.",
		Security:    bearer, Errors: []int{401, 422, 500},
	}, fleetEvents, func(ctx context.Context, in *eventsInput, _ sse.Sender) {
		openStream(ctx, uc, frames, "", true, &in.StreamParams, opts)
	})
}

func accepted(ctx context.Context, call func() (app.Accepted, error)) (*acceptedOutput, error) {
	acc, err := call()
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &acceptedOutput{Body: success(ctx, AcceptedResult{Message: acc.Message, ClusterName: acc.ClusterName})}, nil
}

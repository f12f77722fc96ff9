package httpapi

import (
	"context"
	"slices"
	"sync"

	"github.com/skygate/skygate/app"
	"github.com/skygate/skygate/core"
)

// The answers that front ends poll every few seconds, encoded once for every request
// that asks while nothing changes. Each cache is keyed by the whole input of its
// answer, compared by value, so a cached answer can never be stale.

// statusAnswer is the answer to a status request: rec's result in the envelope.
func statusAnswer(ctx context.Context, statuses *statusCache, rec core.Cluster) (*statusOutput, error) {
	result, err := statuses.encode(rec)
	if err != nil {
		return nil, err
	}
	return &statusOutput{Body: successEncoded[StatusResult](ctx, result)}, nil
}

// statusCache keeps the JSON of the last status result of each cluster asked about.
type statusCache struct {
	mu     sync.RWMutex
	byName map[string]encodedStatus
}

type encodedStatus struct {
	record core.Cluster
	json   []byte
}

// maxCachedStatuses bounds the cache: any name may be asked about (an unmanaged one is
// no_server), and asking must not grow the memory without end.
const maxCachedStatuses = 4096

// encode returns the JSON of rec's status result; the bytes are shared and read-only.
func (c *statusCache) encode(rec core.Cluster) ([]byte, error) {
	c.mu.RLock()
	cached, ok := c.byName[rec.Name]
	c.mu.RUnlock()
	if ok && cached.record == rec {
		return cached.json, nil
	}
	encoded, err := appendValue(nil, statusResult(rec))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.byName == nil || len(c.byName) >= maxCachedStatuses {
		c.byName = make(map[string]encodedStatus)
	}
	c.byName[rec.Name] = encodedStatus{record: rec, json: encoded}
	c.mu.Unlock()
	return encoded, nil
}

// listCache keeps the JSON of the last fleet listing: a fleet of 1,000 clusters is about
// 150 KB of JSON, and between two changes every answer carries the same bytes.
type listCache struct {
	mu    sync.RWMutex
	views []app.ClusterView
	json  []byte
}

// encode returns the JSON of the records of views; the bytes are shared and read-only.
// views must not change once given (UseCases.Clusters hands out read-only views).
func (c *listCache) encode(views []app.ClusterView) ([]byte, error) {
	c.mu.RLock()
	// The use case hands out the same views until a record changes: the same slice is
	// a hit without comparing 1,000 records.
	same := len(views) == len(c.views) && (len(views) == 0 || &views[0] == &c.views[0])
	hit := c.json != nil && (same || slices.Equal(c.views, views))
	cached := c.json
	c.mu.RUnlock()
	if hit {
		return cached, nil
	}
	records := make([]ClusterRecord, len(views))
	for i, v := range views {
		records[i] = clusterRecord(v)
	}
	encoded, err := appendValue(nil, records)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.views, c.json = views, encoded
	c.mu.Unlock()
	return encoded, nil
}

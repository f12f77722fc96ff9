package main

import (
	"fmt"
	"net/http"
	"time"
)

const (
	idleSubscribers      = 1000
	manySubscribersFull  = 10000
	manySubscribersQuick = 3000
	maxKiBPerSubscriber  = 20
	maxIdleRSSKiB        = 30 * 1024
	// settle lets skygate's goroutines and buffers for new streams come into being, and
	// the runtime return what start-up no longer needs, before RSS is read.
	settle = time.Second
)

// measureMemory reads the idle resident memory of a fresh skygate, then its growth per
// idle event subscriber, at 1,000 and at 10,000 subscribers.
func measureMemory(h *harness, r *report) error {
	sg, err := h.startSkygate("memory")
	if err != nil {
		return err
	}
	defer h.stop(sg.child)
	if err := sg.waitCheckWarm(); err != nil {
		return err
	}
	time.Sleep(settle)
	idle, err := sg.residentKiB()
	if err != nil {
		return err
	}
	r.add(figure{
		Name: "idle resident memory", Value: float64(idle) / 1024, Unit: "MiB",
		Measured: fmtMiB(idle), Target: "< " + fmtMiB(maxIdleRSSKiB), Baseline: "after start and sky check",
		Pass: idle < maxIdleRSSKiB,
	})

	streams, err := openEventStreams(idleSubscribers, sg.defaultEvents)
	defer func() { closeEventStreams(streams) }()
	if err != nil {
		return fmt.Errorf("%d of %d idle subscribers connected: %w", len(streams), idleSubscribers, err)
	}
	time.Sleep(settle)
	perSub, err := kibPerSubscriber(sg, idle, len(streams))
	if err != nil {
		return err
	}
	r.add(perSub)

	// The many-subscriber figure adds to the streams already open.
	many := manySubscribersFull
	if h.opts.quick {
		many = manySubscribersQuick
	}
	more, openErr := openEventStreams(many-len(streams), sg.defaultEvents)
	streams = append(streams, more...)
	time.Sleep(settle)
	healthStart := time.Now()
	_, healthErr := expect(http.MethodGet, sg.url+"/healthz", http.StatusOK)
	healthLatency := time.Since(healthStart)
	measured := fmt.Sprintf("%s/%s connected, /healthz 200 in %s", thousands(int64(len(streams))), thousands(int64(many)), fmtMS(healthLatency))
	switch {
	case openErr != nil:
		measured = fmt.Sprintf("%s/%s connected: %v", thousands(int64(len(streams))), thousands(int64(many)), openErr)
	case healthErr != nil:
		measured = fmt.Sprintf("%s/%s connected, /healthz failed: %v", thousands(int64(len(streams))), thousands(int64(many)), healthErr)
	}
	r.add(figure{
		Name: fmt.Sprintf("%s idle subscribers", thousands(int64(many))), Value: float64(len(streams)), Unit: "subscribers",
		Measured: measured, Target: "all connected, /healthz 200", Baseline: "-",
		Pass: openErr == nil && healthErr == nil && len(streams) == many,
	})
	perSub, err = kibPerSubscriber(sg, idle, len(streams))
	if err != nil {
		return err
	}
	r.add(perSub)
	return nil
}

// kibPerSubscriber is the growth of skygate's RSS over idle, per open stream.
func kibPerSubscriber(sg *skygate, idle int64, streams int) (figure, error) {
	now, err := sg.residentKiB()
	if err != nil {
		return figure{}, err
	}
	per := float64(now-idle) / float64(streams)
	return figure{
		Name: fmt.Sprintf("RSS per idle subscriber (%s)", thousands(int64(streams))), Value: per, Unit: "KiB",
		Measured: fmt.Sprintf("%.1f KiB (RSS %s)", per, fmtMiB(now)),
		Target:   fmt.Sprintf("< %d KiB", maxKiBPerSubscriber), Baseline: "idle RSS " + fmtMiB(idle),
		Pass: per < maxKiBPerSubscriber,
	}, nil
}

package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2/sse"

	"github.com/skygate/skygate/app"
	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// maxBatch bounds the frames written at once, so a long backlog still reaches the client
// in steady pieces.
const maxBatch = 64

// openStream answers an event stream of cluster ("" for every cluster); withCluster puts
// each event's cluster in its data (the fleet streams). It takes the connection over from net/http
// once the headers are written: an idle stream then costs one small goroutine writing
// and one reading (to notice a disconnect at once), instead of a request goroutine with
// its read and write buffers. This keeps thousands of open dashboards cheap.
//
// The stream holds its slot of the stream limit until its goroutine ends. A HEAD request
// gets the headers only.
func openStream(ctx context.Context, uc UseCases, frames *streamFrames, cluster string, withCluster bool, in *StreamParams, opts Options) {
	slot := slotFrom(ctx)
	if slot.head {
		if w := infoFrom(ctx).w; w != nil {
			streamHeaders(w.Header())
		}
		return
	}
	var after *uint64
	// Last-Event-ID wins: an EventSource reconnects to the same URL (its ?after=) with
	// the header holding the last id it got.
	for _, v := range []string{in.LastEventID, in.After} {
		if id, err := strconv.ParseUint(v, 10, 64); err == nil && v != "" {
			after = &id
			break
		}
	}
	replay, sub, err := uc.Events(ctx, cluster, after)
	if err != nil {
		if w := infoFrom(ctx).w; w != nil {
			var env *ErrorEnvelope
			if errors.As(fail(ctx, err), &env) {
				writeEnvelope(w, nil, env)
			}
		}
		return
	}
	w := infoFrom(ctx).w
	if w == nil {
		sub.Close()
		return
	}
	header := w.Header().Clone()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		sub.Close()
		opts.Logger.Error().Err(err).Msg("taking over the event stream's connection failed")
		return
	}
	// The server's read deadline (ReadTimeout) must not end a stream that outlives it.
	_ = conn.SetReadDeadline(time.Time{})
	s := &eventStream{conn: conn, sub: sub, keepAlive: opts.KeepAlive, done: opts.Done, frames: frames.cluster, release: slot.take(),
		more: replay.More, backlog: func(ctx context.Context, after uint64) ([]core.Event, error) { return uc.Backlog(ctx, cluster, after) }}
	if withCluster {
		s.frames = frames.fleet
	}
	if replay.After != nil {
		s.last = *replay.After
	}
	streamHeaders(header)
	s.buf.WriteString("HTTP/1.1 200 OK\r\n")
	_ = header.Write(&s.buf)
	s.buf.WriteString("\r\n")
	for i := range replay.Events {
		s.frame(&replay.Events[i])
	}
	go s.run()
}

// streamHeaders are the event stream's headers. The body ends when the connection
// closes, so no length or chunking is needed.
func streamHeaders(header http.Header) {
	header.Set("Content-Type", "text/event-stream")
	header.Set("Cache-Control", "no-cache")
	header.Set("Connection", "close")
	header.Set("X-Accel-Buffering", "no") // tells proxies not to buffer the stream
	header.Del("Content-Length")
}

// eventStream writes SSE frames to a connection taken over from net/http.
type eventStream struct {
	conn      net.Conn
	sub       ports.Subscription
	keepAlive time.Duration
	done      <-chan struct{}
	frames    *frameCache  // the frames of events, shared by every stream of their shape
	last      uint64       // the highest id sent
	buf       bytes.Buffer // frames not yet written
	release   func()       // gives back the stream's slot; may be nil
	// more says the replay was one page of a longer history; backlog reads the next.
	more    bool
	backlog func(ctx context.Context, after uint64) ([]core.Event, error)
}

// run writes what is buffered, then live events and keep-alive comments, until the
// client goes away, its subscription is dropped for falling behind, or shutdown.
func (s *eventStream) run() {
	if s.release != nil {
		defer s.release()
	}
	defer s.conn.Close()
	defer s.sub.Close()
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		var b [1]byte
		for {
			if _, err := s.conn.Read(b[:]); err != nil {
				return
			}
		}
	}()
	if !s.flush() || !s.replayBacklog(gone) {
		return
	}
	keepAlive := time.NewTicker(s.keepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case <-gone:
			return
		case <-s.done:
			return
		case ev, ok := <-s.sub.Events():
			if !ok {
				return
			}
			s.frame(ev)
			if !s.drain() || !s.flush() {
				return
			}
		case <-keepAlive.C:
			s.buf.WriteString(": keep-alive\n\n")
			if !s.flush() {
				return
			}
		}
	}
}

// replayBacklog sends the rest of a long replay, a page at a time, before the live
// events (which wait in the subscription; one that overflows meanwhile is dropped, and
// its client resumes from the last id it got). false when the stream is over.
func (s *eventStream) replayBacklog(gone <-chan struct{}) bool {
	if !s.more {
		return true // the usual case: no goroutine for it
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-gone:
		case <-s.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	for s.more {
		page, err := s.backlog(ctx, s.last)
		if err != nil {
			return false
		}
		for i := range page {
			s.frame(&page[i])
		}
		s.more = len(page) >= app.ReplayPage
		if !s.flush() {
			return false
		}
	}
	return true
}

// drain frames the events already waiting, up to maxBatch; false when the subscription
// was dropped.
func (s *eventStream) drain() bool {
	for range maxBatch {
		select {
		case ev, ok := <-s.sub.Events():
			if !ok {
				return false
			}
			s.frame(ev)
		default:
			return true
		}
	}
	return true
}

// frame buffers one event, each id once and in order, even when the client resumed from
// an id the service has not reached (events lost in a machine crash).
func (s *eventStream) frame(ev *core.Event) {
	if ev.ID <= s.last {
		return
	}
	frame := s.frames.frame(ev)
	if frame == nil {
		return
	}
	s.last = ev.ID
	s.buf.Write(frame)
}

// streamFrames are the frame caches of the two shapes of event data: the cluster
// streams' and the fleet streams' (which name each event's cluster).
type streamFrames struct {
	cluster, fleet *frameCache
}

func newStreamFrames() *streamFrames {
	return &streamFrames{cluster: &frameCache{data: eventData}, fleet: &frameCache{data: fleetEventData}}
}

// frameCache keeps the SSE frames of the latest events. Every subscriber of a cluster
// is sent the same events, and a line printed to 1,000 subscribers was encoded 1,000
// times. An id names one event for the life of the process (the store never issues an
// id twice), so a slot that holds an id holds that event's frame.
type frameCache struct {
	data  func(core.Event) any // an event's data line
	slots [frameCacheSlots]atomic.Pointer[cachedFrame]
}

// frameCacheSlots is how many of the latest events keep their frames; a stream further
// behind than that encodes its own.
const frameCacheSlots = 1024

type cachedFrame struct {
	id    uint64
	frame []byte
}

// frame returns ev's frame (id, event and data lines), nil if its data cannot be
// encoded. The bytes are shared and read-only.
func (c *frameCache) frame(ev *core.Event) []byte {
	slot := &c.slots[ev.ID%frameCacheSlots]
	if f := slot.Load(); f != nil && f.id == ev.ID {
		return f.frame
	}
	data, err := json.Marshal(c.data(*ev))
	if err != nil {
		return nil
	}
	frame := make([]byte, 0, len(data)+len(ev.Type)+40)
	frame = append(frame, "id: "...)
	frame = strconv.AppendUint(frame, ev.ID, 10)
	frame = append(frame, "\nevent: "...)
	frame = append(frame, ev.Type...)
	frame = append(frame, "\ndata: "...)
	frame = append(frame, data...)
	frame = append(frame, "\n\n"...)
	slot.Store(&cachedFrame{id: ev.ID, frame: frame})
	return frame
}

// flush writes the buffered frames; a client that cannot take them within the write
// timeout is disconnected.
func (s *eventStream) flush() bool {
	if s.buf.Len() == 0 {
		return true
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(sse.WriteTimeout))
	_, err := s.conn.Write(s.buf.Bytes())
	s.buf.Reset()
	return err == nil
}

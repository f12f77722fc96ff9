package core

import "time"

// EventType names an event on the stream.
type EventType string

const (
	EventProgress EventType = "progress"
	EventComplete EventType = "complete"
	EventError    EventType = "error"
	EventStatus   EventType = "status"
)

// AllEventTypes lists every event type.
func AllEventTypes() []EventType {
	return []EventType{EventProgress, EventComplete, EventError, EventStatus}
}

// Event is one entry of the event log. ID is assigned by the event log when it is appended
// and grows across restarts; zero means "not yet appended".
type Event struct {
	ID uint64 `json:"id"`
	// Cluster names the cluster the event is about.
	Cluster   string        `json:"cluster,omitempty"`
	Type      EventType     `json:"type"`
	Timestamp time.Time     `json:"timestamp"`
	Message   string        `json:"message"`
	Status    ClusterStatus `json:"status,omitempty"` // only on status events
	// OperationID ties the event to the operation it reports on (0: none), so a new
	// subscriber can be given the events of the operation in flight.
	OperationID uint64 `json:"operation_id,omitempty"`
	// Offset is, on a progress event, where its run's output continues after the line,
	// so following the run after a restart resumes with the next line.
	Offset int64 `json:"offset,omitempty"`
}

// ProgressEvent is one cleaned line of `sky` output.
func ProgressEvent(now time.Time, opID uint64, line string) Event {
	return Event{Type: EventProgress, Timestamp: now.UTC(), Message: line, OperationID: opID}
}

// StatusEvent announces a status change.
func StatusEvent(now time.Time, opID uint64, s ClusterStatus, message string) Event {
	return Event{Type: EventStatus, Timestamp: now.UTC(), Message: message, Status: s, OperationID: opID}
}

// CompleteEvent ends an operation that reached its goal.
func CompleteEvent(now time.Time, opID uint64, message string) Event {
	return Event{Type: EventComplete, Timestamp: now.UTC(), Message: message, OperationID: opID}
}

// ErrorEvent ends an operation that did not reach its goal, or reports a failure found
// by a refresh.
func ErrorEvent(now time.Time, opID uint64, message string) Event {
	return Event{Type: EventError, Timestamp: now.UTC(), Message: message, OperationID: opID}
}

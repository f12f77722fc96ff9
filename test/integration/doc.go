// Package integration runs the real skygate binary and the stub sky CLI in a container
// built FROM scratch, and drives the HTTP API and the event stream as a client would.
// The suite needs a Docker engine; it fails (never skips) without one.
package integration

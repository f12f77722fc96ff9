package core

import (
	"errors"
	"fmt"
)

// ErrorKind classifies a domain error; the HTTP adapter maps each kind to one status code.
type ErrorKind int

const (
	KindInvalid           ErrorKind = iota + 1 // the request itself is wrong (422)
	KindNotFound                               // no cluster to act on (404)
	KindConflict                               // the cluster's status forbids the request (409)
	KindDependencyMissing                      // sky or cloud credentials are missing (424)
	KindUnauthorized                           // missing or wrong token (401)
	KindUpstream                               // sky ran but its answer could not be used (502)
)

func (k ErrorKind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not found"
	case KindConflict:
		return "conflict"
	case KindDependencyMissing:
		return "dependency missing"
	case KindUnauthorized:
		return "unauthorized"
	case KindUpstream:
		return "upstream failure"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a typed domain error. Key names the field or concern it is about, the key of the
// envelope's errors map: "body.cloud", "cluster", "sky", "credentials", "auth".
type Error struct {
	Kind    ErrorKind
	Key     string
	Message string
}

func (e *Error) Error() string { return e.Key + ": " + e.Message }

// Errorf builds a domain error.
func Errorf(kind ErrorKind, key, format string, args ...any) *Error {
	return &Error{Kind: kind, Key: key, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the domain error inside err, if there is one.
func AsError(err error) (*Error, bool) {
	var de *Error
	if errors.As(err, &de) {
		return de, true
	}
	return nil, false
}

// Keys of the envelope's errors map for concerns that are not request fields.
const (
	KeyCluster     = "cluster"
	KeySky         = "sky"
	KeyCredentials = "credentials"
	KeyAuth        = "auth"
)

package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/skygate/skygate/core"
	"github.com/skygate/skygate/ports"
)

// CheckInfo is what skygate knows of the SkyPilot installation and cloud access.
type CheckInfo struct {
	SkyInstalled bool
	Version      core.Version // zero when sky is missing or its version is unreadable
	Enabled      []string
	Disabled     map[string]string
	CheckedAt    time.Time
}

// Check returns the result of `sky --version` and `sky check`. Without refresh a cached
// result is returned at once; one older than the TTL is still returned, while a new
// check runs in the background, so no request waits on a slow `sky check` except on a
// service that never checked. Concurrent runs are shared.
func (s *Service) Check(ctx context.Context, refresh bool) (CheckInfo, error) {
	if !refresh {
		if info, fresh, ok := s.cachedCheck(); ok {
			if !fresh {
				go func() { _, _ = s.runSharedCheck(s.base) }()
			}
			return info, nil
		}
	}
	return s.runSharedCheck(ctx)
}

// CheckAge is how old the cached check is (false when there is none).
func (s *Service) CheckAge() (time.Duration, bool) {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	if !s.hasCheck {
		return 0, false
	}
	return s.clock.Now().Sub(s.checked.CheckedAt), true
}

func (s *Service) runSharedCheck(ctx context.Context) (CheckInfo, error) {
	v, err := s.shared(ctx, "check", func(ctx context.Context) (any, error) {
		info, err := s.runCheck(ctx)
		if err == nil {
			s.checkMu.Lock()
			s.checked, s.hasCheck = info, true
			s.checkMu.Unlock()
		}
		return info, err
	})
	if err != nil {
		return CheckInfo{}, err
	}
	return v.(CheckInfo), nil
}

func (s *Service) cachedCheck() (info CheckInfo, fresh, ok bool) {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	if !s.hasCheck {
		return CheckInfo{}, false, false
	}
	return s.checked, s.clock.Now().Sub(s.checked.CheckedAt) < s.cfg.CheckTTL, true
}

func (s *Service) runCheck(ctx context.Context) (CheckInfo, error) {
	info := CheckInfo{Enabled: []string{}, Disabled: map[string]string{}, CheckedAt: s.clock.Now()}
	v, err := s.runner.Version(ctx)
	if errors.Is(err, ports.ErrSkyNotFound) {
		return info, nil
	}
	if err != nil {
		return CheckInfo{}, err
	}
	info.SkyInstalled, info.Version = true, v
	result, err := s.runner.Check(ctx)
	if errors.Is(err, ports.ErrSkyNotFound) {
		return CheckInfo{Enabled: []string{}, Disabled: map[string]string{}, CheckedAt: info.CheckedAt}, nil
	}
	if err != nil {
		if _, ok := core.AsError(err); ok || ctx.Err() != nil {
			return CheckInfo{}, err
		}
		return CheckInfo{}, core.Errorf(core.KindUpstream, core.KeySky, "sky check failed: %v", err)
	}
	info.Enabled = append(info.Enabled, result.Enabled...)
	for cloud, reason := range result.Disabled {
		info.Disabled[cloud] = reason
	}
	return info, nil
}

func (s *Service) knownVersion() core.Version {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	return s.checked.Version
}

// readyFor tells whether a launch on cloud ("" for any) can go ahead, as a
// dependency-missing error when it cannot.
func (info CheckInfo) readyFor(cloud string) error {
	if !info.SkyInstalled {
		return skyMissing()
	}
	usable := core.ComputeClouds(info.Enabled)
	if len(usable) == 0 {
		return core.Errorf(core.KindDependencyMissing, core.KeyCredentials,
			"no cloud credentials are configured: no cloud is enabled in SkyPilot (run: sky check)")
	}
	if cloud != "" && !slices.Contains(usable, cloud) {
		msg := "cloud " + cloud + " is not enabled in SkyPilot (enabled: " + strings.Join(usable, ", ") + ")"
		if reason := info.Disabled[cloud]; reason != "" {
			msg += ": " + reason
		}
		return core.Errorf(core.KindDependencyMissing, core.KeyCredentials, "%s", msg)
	}
	return nil
}

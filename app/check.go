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

// Check returns the cached result of `sky --version` and `sky check`, running them when
// the cache is empty, older than the TTL, or refresh is asked. Concurrent runs are shared.
func (s *Service) Check(ctx context.Context, refresh bool) (CheckInfo, error) {
	if !refresh {
		if info, ok := s.cachedCheck(); ok {
			return info, nil
		}
	}
	v, err, _ := s.flight.Do("check", func() (any, error) {
		info, err := s.runCheck(context.WithoutCancel(ctx))
		if err == nil {
			s.checkMu.Lock()
			s.checked, s.checkAt, s.hasCheck = info, info.CheckedAt, true
			s.checkMu.Unlock()
		}
		return info, err
	})
	if err != nil {
		return CheckInfo{}, err
	}
	return v.(CheckInfo), nil
}

func (s *Service) cachedCheck() (CheckInfo, bool) {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	if !s.hasCheck || s.clock.Now().Sub(s.checkAt) >= s.cfg.CheckTTL {
		return CheckInfo{}, false
	}
	return s.checked, true
}

func (s *Service) runCheck(ctx context.Context) (CheckInfo, error) {
	info := CheckInfo{Enabled: []string{}, Disabled: map[string]string{}, CheckedAt: s.clock.Now()}
	res, err := s.runner.Version(ctx)
	if errors.Is(err, ports.ErrSkyNotFound) {
		return info, nil
	}
	if err != nil {
		return CheckInfo{}, err
	}
	info.SkyInstalled = true
	if v, err := core.ParseVersion(res.Stdout + "\n" + res.Stderr); err == nil {
		info.Version = v
	} else {
		s.log.Warn().Err(err).Msg("unreadable sky version; assuming the oldest output forms")
	}
	res, err = s.runner.Check(ctx, info.Version.HasJSONOutput())
	if err == nil && info.Version.HasJSONOutput() && res.ExitCode == usageErrorExit {
		res, err = s.runner.Check(ctx, false) // a 0.12 build without -o json
	}
	if errors.Is(err, ports.ErrSkyNotFound) {
		return CheckInfo{Enabled: []string{}, Disabled: map[string]string{}, CheckedAt: info.CheckedAt}, nil
	}
	if err != nil {
		return CheckInfo{}, err
	}
	result, perr := core.ParseCheck(res.Stdout)
	if res.ExitCode != 0 || perr != nil {
		return CheckInfo{}, core.Errorf(core.KindUpstream, core.KeySky, "sky check failed: %s", core.ExtractError(res.Stderr, res.Stdout))
	}
	info.Enabled = append(info.Enabled, result.Enabled...)
	for cloud, reason := range result.Disabled {
		info.Disabled[cloud] = reason
	}
	return info, nil
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

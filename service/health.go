package service

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/status"

	"github.com/strata-gateway/strata/backend"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// HealthChecker runs HealthCheck's deep checks: configuration, credentials, and each configured
// model as Bedrock sees it. Unlike grpc.health.v1, these do call Bedrock; they are for operators
// and `strata health`, not for load balancers.
type HealthChecker struct {
	Backend backend.Backend
	Router  *Router
	Region  string
	// Credentials resolves the AWS credentials (never returning or logging them); nil skips the check.
	Credentials func(ctx context.Context) error
	// Warnings are configuration problems found at start-up that did not stop it.
	Warnings []string
	// Timeout bounds each check.
	Timeout time.Duration
	// Logger receives what the checks' answers leave out.
	Logger *slog.Logger
}

// Run runs every check and reports each, and the worst status.
func (h *HealthChecker) Run(ctx context.Context, invoke bool) *stratav1.HealthCheckResponse {
	out := &stratav1.HealthCheckResponse{}
	config := &stratav1.Check{Name: "config", Status: stratav1.HealthStatus_HEALTH_STATUS_OK, Detail: "configuration loaded"}
	if len(h.Warnings) > 0 {
		config.Status, config.Detail = stratav1.HealthStatus_HEALTH_STATUS_WARN, strings.Join(h.Warnings, "; ")
	}
	out.Checks = append(out.Checks, config)
	if h.Credentials != nil {
		c, err := h.timed(ctx, "credentials", func(ctx context.Context) (string, error) {
			return "AWS credentials resolved", h.Credentials(ctx)
		})
		if err != nil {
			// The SDK's text may carry request ids; the operator's log has it, the answer does not.
			if h.Logger != nil {
				h.Logger.WarnContext(ctx, "aws credentials do not resolve", "error", err)
			}
			c.Detail = "AWS credentials do not resolve: check AWS_PROFILE, the static keys, the role settings, or the instance/pod role"
		}
		out.Checks = append(out.Checks, c)
	}
	models := h.models()
	checks := make([]*stratav1.Check, len(models))
	errs := make([]error, len(models))
	var wg sync.WaitGroup
	for i, id := range models {
		wg.Go(func() {
			checks[i], errs[i] = h.timed(ctx, "model:"+id, func(ctx context.Context) (string, error) {
				if invoke {
					return "answered a 1-token call", h.Backend.Probe(ctx, id, true)
				}
				return "known to bedrock in " + h.Region, h.Backend.Probe(ctx, id, false)
			})
		})
	}
	wg.Wait()
	out.Checks = append(out.Checks, endpointCheck(checks, errs, h.Region))
	out.Checks = append(out.Checks, checks...)
	for _, c := range out.Checks {
		if c.Status > out.Status {
			out.Status = c.Status
		}
	}
	return out
}

// models lists every distinct model the configuration names, defaults first.
func (h *HealthChecker) models() []string {
	chat, embedding := h.Router.Defaults()
	ids := []string{chat.Model.ModelID, embedding.ModelID}
	for _, rt := range h.Router.Routes() {
		ids = append(ids, rt.Model.ModelID)
	}
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func (h *HealthChecker) timed(ctx context.Context, name string, check func(ctx context.Context) (string, error)) (*stratav1.Check, error) {
	if h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.Timeout)
		defer cancel()
	}
	start := time.Now()
	detail, err := check(ctx)
	c := &stratav1.Check{Name: name, Status: stratav1.HealthStatus_HEALTH_STATUS_OK, Detail: detail, LatencyMs: time.Since(start).Milliseconds()}
	if err != nil {
		c.Status = stratav1.HealthStatus_HEALTH_STATUS_FAIL
		c.Detail = status.Convert(toStatus(ctx, err, h.Region)).Message()
	}
	return c, err
}

// endpointCheck says whether Bedrock answered at all, from the model checks already made: the
// endpoint is reachable when any of them got an answer from Bedrock, even a refusal, and not when
// every one failed to connect, timed out, or found Bedrock failing to serve.
func endpointCheck(models []*stratav1.Check, errs []error, region string) *stratav1.Check {
	c := &stratav1.Check{Name: "endpoint", Status: stratav1.HealthStatus_HEALTH_STATUS_OK, Detail: "bedrock answered in " + region}
	for i, err := range errs {
		c.LatencyMs = max(c.LatencyMs, models[i].GetLatencyMs())
		if !unreachable(err) {
			return c
		}
	}
	if len(errs) > 0 {
		c.Status, c.Detail = stratav1.HealthStatus_HEALTH_STATUS_FAIL, "bedrock did not answer: "+models[len(models)-1].GetDetail()
	}
	return c
}

// unreachable reports whether err means Bedrock gave no answer of its own.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	be, ok := backend.AsError(err)
	if !ok {
		return true
	}
	switch be.Kind {
	case backend.KindUnavailable, backend.KindTimeout, backend.KindCanceled, backend.KindInternal:
		return true
	}
	return false
}

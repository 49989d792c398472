package server

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// admission bounds the calls a server runs at once (STRATA_MAX_IN_FLIGHT). Beyond the bound a new
// call is refused at once with RESOURCE_EXHAUSTED and a RetryInfo, rather than queued without
// bound: the caller, or its load balancer, can go to another replica, and the server's memory
// stays flat under any load. Health checks and reflection are never refused, so a busy server is
// not taken for a dead one.
type admission struct {
	max int64
	n   atomic.Int64
}

// overloadRetryAfter is the delay RetryInfo suggests to a refused caller.
const overloadRetryAfter = 100 * time.Millisecond

// ReasonOverloaded is the ErrorInfo reason of a call refused by admission control.
const ReasonOverloaded = "OVERLOADED"

func (a *admission) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if a.exempt(info.FullMethod) {
		return handler(ctx, req)
	}
	if !a.enter() {
		return nil, a.refusal()
	}
	defer a.n.Add(-1)
	return handler(ctx, req)
}

func (a *admission) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if a.exempt(info.FullMethod) {
		return handler(srv, ss)
	}
	if !a.enter() {
		return a.refusal()
	}
	defer a.n.Add(-1)
	return handler(srv, ss)
}

func (a *admission) enter() bool {
	if a.max <= 0 {
		a.n.Add(1)
		return true
	}
	if a.n.Add(1) > a.max {
		a.n.Add(-1)
		return false
	}
	return true
}

func (a *admission) exempt(method string) bool { return exemptMethod(method) }

// exemptMethod reports the health and reflection methods, which admission never refuses and the
// idle trimmer never counts.
func exemptMethod(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.") || strings.HasPrefix(method, "/grpc.reflection.")
}

func (a *admission) refusal() error {
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("the server is running its limit of %d calls (STRATA_MAX_IN_FLIGHT): retry shortly, or spread the load over more replicas", a.max))
	if d, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: ReasonOverloaded, Domain: "strata", Metadata: map[string]string{"max_in_flight": fmt.Sprint(a.max)}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(overloadRetryAfter)},
	); err == nil {
		st = d
	}
	return st.Err()
}

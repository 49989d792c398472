package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/strata-gateway/strata/backend"
	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
)

// errorDomain is the ErrorInfo domain of every error Strata returns.
const errorDomain = "strata"

// Reasons in ErrorInfo, one per way a call fails, stable for clients to switch on.
const (
	ReasonInvalidRequest  = "INVALID_REQUEST"
	ReasonUnknownModel    = "UNKNOWN_MODEL"
	ReasonBedrockRejected = "BEDROCK_VALIDATION"
	ReasonAccessDenied    = "BEDROCK_ACCESS_DENIED"
	ReasonNotFound        = "BEDROCK_NOT_FOUND"
	ReasonThrottled       = "BEDROCK_THROTTLED"
	ReasonQuotaExceeded   = "BEDROCK_QUOTA_EXCEEDED"
	ReasonModelTimeout    = "BEDROCK_MODEL_TIMEOUT"
	ReasonModelNotReady   = "BEDROCK_MODEL_NOT_READY"
	ReasonUnavailable     = "BEDROCK_UNAVAILABLE"
	ReasonStreamTruncated = "BEDROCK_STREAM_TRUNCATED"
	ReasonCanceled        = "CANCELED"
	ReasonInternal        = "INTERNAL"
	// ReasonCircuitOpen: the model failed too often of late and calls to it are paused.
	ReasonCircuitOpen = "CIRCUIT_OPEN"
	// ReasonFormatViolated: the model's reply did not match the request's response_format, even
	// after it was asked once to correct it.
	ReasonFormatViolated = "RESPONSE_FORMAT_VIOLATED"
)

// formatViolated is the status of a reply that broke its response format.
func formatViolated(model string, attempts int, broke error) error {
	return withDetails(codes.Internal, fmt.Sprintf("the reply of %s did not match the response format after %d tries: %v", model, attempts, broke),
		ReasonFormatViolated, map[string]string{"model": model}, 0)
}

// defaultRetryAfter is the delay RetryInfo suggests when Bedrock gave no hint.
const defaultRetryAfter = time.Second

// toStatus maps any error of a call to the gRPC status the caller gets, in one place: a
// lower-case message that says what to do, ErrorInfo with the AWS request id and error code in
// its metadata (never in the message), and RetryInfo where retrying later helps.
func toStatus(ctx context.Context, err error, region string) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	be, ok := backend.AsError(err)
	if !ok {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return canceledStatus(ctx, err)
		}
		return withDetails(codes.Internal, "internal error: "+err.Error(), ReasonInternal, nil, 0)
	}
	region = cmp.Or(be.Region, region) // a fallback in another region fails there
	meta := map[string]string{"model": be.Model, "region": region}
	if be.RequestID != "" {
		meta["aws_request_id"] = be.RequestID
	}
	if be.Code != "" {
		meta["aws_error_code"] = be.Code
	}
	if be.HTTPStatus != 0 {
		meta["http_status"] = strconv.Itoa(be.HTTPStatus)
	}
	retryAfter := be.RetryAfter
	switch be.Kind {
	case backend.KindInvalid:
		return withDetails(codes.InvalidArgument, fmt.Sprintf("bedrock rejected the request for %s: %s", be.Model, be.Message), ReasonBedrockRejected, meta, 0)
	case backend.KindUnknownModel:
		if strings.HasPrefix(be.Model, "arn:") {
			return withDetails(codes.InvalidArgument, fmt.Sprintf("model %q is not available in %s: check the ARN, that the resource exists in this account and region, and that Strata's role may use it", be.Model, region), ReasonUnknownModel, meta, 0)
		}
		return withDetails(codes.InvalidArgument, fmt.Sprintf("model %q is not available in %s: check the model id, and that Bedrock offers it in that region (some models need an inference profile such as us.%s)", be.Model, region, be.Model), ReasonUnknownModel, meta, 0)
	case backend.KindAccessDenied:
		return withDetails(codes.PermissionDenied, fmt.Sprintf("access denied: check the IAM policy allows bedrock:InvokeModel on %s in %s, and that model access is enabled in the Bedrock console", be.Model, region), ReasonAccessDenied, meta, 0)
	case backend.KindNotFound:
		return withDetails(codes.NotFound, fmt.Sprintf("bedrock could not find a resource for %s: %s", be.Model, be.Message), ReasonNotFound, meta, 0)
	case backend.KindThrottled:
		return withDetails(codes.ResourceExhausted, fmt.Sprintf("bedrock is throttling calls to %s: retry later, or raise the quota for this model", be.Model), ReasonThrottled, meta, orDefault(retryAfter))
	case backend.KindQuotaExceeded:
		return withDetails(codes.ResourceExhausted, fmt.Sprintf("the account's quota for %s is exceeded: %s", be.Model, be.Message), ReasonQuotaExceeded, meta, 0)
	case backend.KindTimeout:
		return withDetails(codes.DeadlineExceeded, fmt.Sprintf("model %s timed out processing the request: retry, or shorten the prompt or max_tokens", be.Model), ReasonModelTimeout, meta, orDefault(retryAfter))
	case backend.KindModelNotReady:
		return withDetails(codes.Unavailable, fmt.Sprintf("model %s is not ready to serve yet: retry shortly", be.Model), ReasonModelNotReady, meta, orDefault(retryAfter))
	case backend.KindUnavailable:
		if be.Code == errCircuitOpen {
			delete(meta, "aws_error_code") // Strata's refusal, not Bedrock's
			return withDetails(codes.Unavailable, fmt.Sprintf("calls to %s are paused: it failed too often of late (its circuit is open); retry after the delay, or give its route a fallback", be.Model), ReasonCircuitOpen, meta, orDefault(retryAfter))
		}
		return withDetails(codes.Unavailable, fmt.Sprintf("bedrock failed to serve %s: retry", be.Model), ReasonUnavailable, meta, orDefault(retryAfter))
	case backend.KindTruncated:
		return withDetails(codes.Unavailable, fmt.Sprintf("bedrock's stream for %s ended before the reply was complete: retry", be.Model), ReasonStreamTruncated, meta, orDefault(retryAfter))
	case backend.KindCanceled:
		return canceledStatus(ctx, err)
	}
	return withDetails(codes.Internal, fmt.Sprintf("calling %s failed unexpectedly", be.Model), ReasonInternal, meta, 0)
}

// orDefault suggests a retry delay where Bedrock gave none.
func orDefault(d time.Duration) time.Duration {
	if d <= 0 {
		return defaultRetryAfter
	}
	return d
}

func canceledStatus(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return withDetails(codes.DeadlineExceeded, "the call's deadline passed before bedrock answered", ReasonCanceled, nil, 0)
	}
	return withDetails(codes.Canceled, "the call was canceled", ReasonCanceled, nil, 0)
}

// withDetails builds a status with ErrorInfo and, when retryAfter is positive, RetryInfo.
func withDetails(code codes.Code, msg, reason string, meta map[string]string, retryAfter time.Duration) error {
	st := status.New(code, msg)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: errorDomain, Metadata: meta}}
	if retryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)})
	}
	if withInfo, err := st.WithDetails(details...); err == nil {
		st = withInfo
	}
	return st.Err()
}

// fieldViolation is one problem with one field of a request.
type fieldViolation struct{ field, problem string }

// invalidArgument reports request fields to fix, as INVALID_ARGUMENT with BadRequest details.
func invalidArgument(violations ...fieldViolation) error {
	br := &errdetails.BadRequest{}
	msg := ""
	for i, v := range violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.field, Description: v.problem})
		if i > 0 {
			msg += "; "
		}
		msg += v.field + ": " + v.problem
	}
	st := status.New(codes.InvalidArgument, "invalid request: "+msg)
	if withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: ReasonInvalidRequest, Domain: errorDomain}, br); err == nil {
		st = withInfo
	}
	return st.Err()
}

// withPartialUsage adds to a cut stream's status what it had used: the input estimate and the
// streamed characters at four a token (PartialUsage), since Bedrock's usage comes only at the end.
func withPartialUsage(err error, inputTokens, streamedChars, deltas int) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	output := int64(streamedChars+3) / 4
	detailed, derr := st.WithDetails(&stratav1.PartialUsage{
		Usage:  &stratav1.Usage{InputTokens: int64(inputTokens), OutputTokens: output, TotalTokens: int64(inputTokens) + output},
		Deltas: int32(deltas),
	})
	if derr != nil {
		return err
	}
	return detailed.Err()
}

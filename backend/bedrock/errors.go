package bedrock

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/strata-gateway/strata/backend"
)

// msgInvalidModel is what Bedrock answers for a model id it does not know
// (recorded: bedrock-corpus/converse/test_bedrock_error.yaml).
const msgInvalidModel = "The provided model identifier is invalid."

// toError turns any error of an SDK call into a *backend.Error: its kind, Bedrock's code and
// message, the HTTP status, request id and retry hint. The SDK's messages carry no secrets, and
// nothing here adds any.
func (b *Backend) toError(ctx context.Context, err error, modelID string) *backend.Error {
	if e, ok := backend.AsError(err); ok {
		return e
	}
	e := &backend.Error{Model: modelID, Region: b.region, Err: err}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		e.HTTPStatus = re.HTTPStatusCode()
		if re.Response != nil {
			e.RetryAfter = retryAfter(re.Response.Header, time.Now())
		}
	}
	var rid interface{ ServiceRequestID() string }
	if errors.As(err, &rid) {
		e.RequestID = rid.ServiceRequestID()
	}
	switch {
	case ctx.Err() != nil:
		// The caller went away or its deadline passed: checked first, because a cancellation
		// also surfaces as a broken connection. Only the context says so: a dial timeout also
		// matches context.DeadlineExceeded, and it is a connection failure worth retrying.
		e.Kind = backend.KindCanceled
		e.Message = "the call was canceled or its deadline passed"
		if cerr := context.Cause(ctx); cerr != nil {
			e.Message += ": " + cerr.Error()
		}
		return e
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		e.Code, e.Message = apiErr.ErrorCode(), apiErr.ErrorMessage()
		e.Kind = kindOf(e.Code, e.Message, e.HTTPStatus)
		if e.Message == "" || e.Message == "UnknownError" {
			e.Message = describeStatus(e.HTTPStatus)
		}
		return e
	}
	switch {
	case e.HTTPStatus != 0:
		// A response without a Bedrock error body (a proxy's 502 page, a body that did not parse).
		e.Kind = kindForStatus(e.HTTPStatus)
		e.Message = describeStatus(e.HTTPStatus)
	case isConnectionError(err):
		e.Kind = backend.KindUnavailable
		e.Message = "the connection to Bedrock failed: " + rootMessage(err)
	default:
		e.Kind = backend.KindInternal
		e.Message = rootMessage(err)
	}
	return e
}

// kindOf classifies a Bedrock error code (bedrock-wire.md §5.3). A code the SDK could not read
// (UnknownError: the X-Amzn-ErrorType header was missing, as in the corpus, §5.4) or one this
// table does not know falls back on the HTTP status.
func kindOf(code, message string, status int) backend.Kind {
	switch code {
	case "ValidationException":
		if message == msgInvalidModel {
			return backend.KindUnknownModel
		}
		return backend.KindInvalid
	case "AccessDeniedException",
		// The AWS front door's answers to bad credentials (§5.3, last paragraph).
		"UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
		"MissingAuthenticationTokenException", "ExpiredTokenException", "InvalidClientTokenId":
		return backend.KindAccessDenied
	case "ResourceNotFoundException":
		return backend.KindNotFound
	case "ThrottlingException", "TooManyRequestsException":
		return backend.KindThrottled
	case "ModelNotReadyException":
		return backend.KindModelNotReady
	case "ModelTimeoutException":
		return backend.KindTimeout
	case "ModelErrorException", "ModelStreamErrorException", "InternalServerException", "ServiceUnavailableException":
		return backend.KindUnavailable
	case "ServiceQuotaExceededException":
		return backend.KindQuotaExceeded
	}
	if status == http.StatusBadRequest && message == msgInvalidModel {
		return backend.KindUnknownModel
	}
	return kindForStatus(status)
}

// kindForStatus classifies by HTTP status alone, with the status each code travels with (§5.3).
func kindForStatus(status int) backend.Kind {
	switch {
	case status == http.StatusBadRequest:
		return backend.KindInvalid
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return backend.KindAccessDenied
	case status == http.StatusNotFound:
		return backend.KindNotFound
	case status == http.StatusRequestTimeout:
		return backend.KindTimeout
	case status == http.StatusFailedDependency:
		return backend.KindUnavailable
	case status == http.StatusTooManyRequests:
		return backend.KindThrottled
	case status >= 500:
		return backend.KindUnavailable
	}
	return backend.KindInternal
}

func describeStatus(status int) string {
	if status == 0 {
		return "Bedrock answered with an error it did not describe"
	}
	return "Bedrock answered HTTP " + strconv.Itoa(status) + " " + http.StatusText(status)
}

// isConnectionError reports failures to reach Bedrock or to read its whole answer: refused or
// reset connections, a body cut short, DNS and dial errors.
func isConnectionError(err error) bool {
	var sendErr *smithyhttp.RequestSendError
	var netErr net.Error
	return errors.As(err, &sendErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// rootMessage is the innermost error's text: the SDK's wrappers repeat the operation name.
func rootMessage(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// retryAfter reads the service's hint of when to retry: X-Amz-Retry-After in milliseconds (which
// the SDK's own retryer honours, §6.1), else a standard Retry-After in seconds or as a date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("X-Amz-Retry-After")); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil && s > 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil && t.After(now) {
			return t.Sub(now)
		}
	}
	return 0
}

// invalidf is a request Strata refuses before calling Bedrock.
func (b *Backend) invalidf(modelID, message string) *backend.Error {
	return &backend.Error{Kind: backend.KindInvalid, Message: message, Model: modelID, Region: b.region}
}

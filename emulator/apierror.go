package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error codes Bedrock Runtime returns, with the HTTP status each travels with
// (bedrock-wire.md §5.3). The codes are the X-Amzn-ErrorType values the SDKs decode into typed errors.
const (
	CodeValidation           = "ValidationException"
	CodeAccessDenied         = "AccessDeniedException"
	CodeResourceNotFound     = "ResourceNotFoundException"
	CodeModelTimeout         = "ModelTimeoutException"
	CodeModelError           = "ModelErrorException"
	CodeModelStreamError     = "ModelStreamErrorException"
	CodeThrottling           = "ThrottlingException"
	CodeModelNotReady        = "ModelNotReadyException"
	CodeServiceQuotaExceeded = "ServiceQuotaExceededException"
	CodeInternalServer       = "InternalServerException"
	CodeServiceUnavailable   = "ServiceUnavailableException"
	// The AWS front door answers these before a request reaches Bedrock (bedrock-wire.md §5.3, last paragraph).
	CodeInvalidSignature     = "InvalidSignatureException"
	CodeUnrecognizedClient   = "UnrecognizedClientException"
	CodeIncompleteSignature  = "IncompleteSignatureException"
	CodeMissingAuthToken     = "MissingAuthenticationTokenException"
	codeUnknownOperation     = "UnknownOperationException"
	errorTypeNamespaceSuffix = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
)

// errorSpec is what the emulator knows about one error code.
type errorSpec struct {
	status int
	// message is the text AWS sends when nothing more specific applies.
	message string
}

// errorSpecs maps each code to its status and default message. Messages are AWS's own where a
// recording or a public trace shows them.
func errorSpecFor(code string) (errorSpec, bool) {
	switch code {
	case CodeValidation:
		return errorSpec{http.StatusBadRequest, "Malformed input request, please reformat your input and try again."}, true
	case CodeServiceQuotaExceeded:
		return errorSpec{http.StatusBadRequest, "Your request exceeds the service quota for your account. You can view your quotas at https://docs.aws.amazon.com/servicequotas/latest/userguide/gs-request-quota.html. You can resubmit your request later."}, true
	case CodeAccessDenied:
		return errorSpec{http.StatusForbidden, "You don't have access to the model with the specified model ID."}, true
	case CodeResourceNotFound:
		return errorSpec{http.StatusNotFound, "The requested resource could not be found."}, true
	case CodeModelTimeout:
		return errorSpec{http.StatusRequestTimeout, "Model has timed out in processing the request. Try your request again."}, true
	case CodeModelError:
		return errorSpec{http.StatusFailedDependency, "The model encountered an error processing your request. Try your request again."}, true
	case CodeModelStreamError:
		return errorSpec{http.StatusFailedDependency, "The system encountered an unexpected error during processing. Try your request again."}, true
	case CodeThrottling:
		return errorSpec{http.StatusTooManyRequests, "Too many requests, please wait before trying again."}, true
	case CodeModelNotReady:
		return errorSpec{http.StatusTooManyRequests, "Model is not ready to serve inference requests. The AWS SDK will automatically retry the operation up to 5 times. For information about configuring automatic retries, see Retry behavior in the AWS SDKs and Tools reference guide."}, true
	case CodeInternalServer:
		return errorSpec{http.StatusInternalServerError, "The server encountered an internal error while processing the request."}, true
	case CodeServiceUnavailable:
		return errorSpec{http.StatusServiceUnavailable, "Bedrock is unable to process your request."}, true
	case CodeInvalidSignature:
		return errorSpec{http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}, true
	case CodeUnrecognizedClient:
		return errorSpec{http.StatusForbidden, "The security token included in the request is invalid."}, true
	case CodeIncompleteSignature:
		return errorSpec{http.StatusForbidden, "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."}, true
	case CodeMissingAuthToken:
		return errorSpec{http.StatusForbidden, "Missing Authentication Token"}, true
	case codeUnknownOperation:
		return errorSpec{http.StatusNotFound, "UnknownOperationException"}, true
	}
	return errorSpec{}, false
}

// apiError is an error the emulator answers with, in Bedrock's shape.
type apiError struct {
	code    string
	status  int
	message string
	// retryAfter, when set, is sent as X-Amz-Retry-After (milliseconds), which the SDKs honour.
	retryAfter time.Duration
	// extra members of the JSON body, e.g. ModelErrorException's originalStatusCode.
	extra map[string]any
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// newAPIError builds an error with code's status; an empty message takes AWS's default text.
func newAPIError(code, message string) *apiError {
	spec, ok := errorSpecFor(code)
	if !ok {
		spec = errorSpec{http.StatusInternalServerError, "The server encountered an internal error while processing the request."}
	}
	if message == "" {
		message = spec.message
	}
	e := &apiError{code: code, status: spec.status, message: message}
	if code == CodeModelError {
		e.extra = map[string]any{"originalStatusCode": 500, "resourceName": ""}
	}
	return e
}

// validationf is the common case: a 400 ValidationException with a formatted message.
func validationf(format string, args ...any) *apiError {
	return newAPIError(CodeValidation, fmt.Sprintf(format, args...))
}

// errInvalidModel is Bedrock's answer to a model identifier it does not know
// (recorded: bedrock-corpus/converse/test_bedrock_error.yaml).
func errInvalidModel() *apiError {
	return validationf("The provided model identifier is invalid.")
}

// writeAPIError writes e as AWS does: status, X-Amzn-ErrorType, x-amzn-RequestId and a
// {"message": ...} body (bedrock-wire.md §5.1).
func writeAPIError(w http.ResponseWriter, requestID string, e *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// AWS's own spelling, kept on HTTP/1.1 (header names are case-insensitive to every client).
	h["x-amzn-ErrorType"] = []string{e.code + errorTypeNamespaceSuffix}
	h["x-amzn-RequestId"] = []string{requestID}
	if e.retryAfter > 0 {
		h.Set("X-Amz-Retry-After", strconv.FormatInt(e.retryAfter.Milliseconds(), 10))
	}
	body := map[string]any{"message": e.message}
	for k, v := range e.extra {
		body[k] = v
	}
	b, _ := json.Marshal(body) // a map of strings and numbers always marshals
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// streamExceptionType is the lowerCamel union member name an exception travels under inside an
// event stream (bedrock-wire.md §0 item 3).
func streamExceptionType(code string) string {
	if code == "" {
		return code
	}
	return string(code[0]+('a'-'A')) + code[1:]
}

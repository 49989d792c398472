package emulator

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/strata-gateway/strata/catalog"
)

// serveCountTokens implements POST /model/{id}/count-tokens (bedrock-wire.md §2.4): the input
// tokens a Converse or InvokeModel body would use, counted exactly as those operations count them.
func (e *Emulator) serveCountTokens(w http.ResponseWriter, _ *http.Request, c *call) *apiError {
	if !c.model.CountTokens {
		return validationf("The provided model doesn't support counting tokens.")
	}
	var req struct {
		Input struct {
			Converse    json.RawMessage `json:"converse"`
			InvokeModel *struct {
				Body []byte `json:"body"`
			} `json:"invokeModel"`
		} `json:"input"`
	}
	if err := json.Unmarshal(c.body, &req); err != nil {
		return malformed(jsonProblem(err))
	}
	var (
		t      *turn
		apiErr *apiError
	)
	switch {
	case req.Input.Converse != nil:
		var cr *converseRequest
		if cr, apiErr = decodeConverse(req.Input.Converse); apiErr == nil {
			t, apiErr = e.converseTurn(c.model, cr, false)
		}
	case req.Input.InvokeModel != nil && c.model.Family == catalog.FamilyClaude:
		inner := *c
		inner.body = req.Input.InvokeModel.Body
		t, _, apiErr = e.anthropicTurn(&inner)
	case req.Input.InvokeModel != nil:
		return validationf("The emulator counts InvokeModel bodies of Claude models only.")
	default:
		return validationf("The input field must set converse or invokeModel.")
	}
	if apiErr != nil {
		return apiErr
	}
	writeJSON(w, c.requestID, []byte(`{"inputTokens":`+strconv.Itoa(t.inputTokens)+`}`))
	return nil
}

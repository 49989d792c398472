package corpus_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a replayed stream or server leaves goroutines behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

//go:build !linux

package bench

import (
	"errors"
	"time"
)

// errUnsupported is what resource readings and pinning return off Linux, where the harness
// still runs and measures latency but reads no /proc.
var errUnsupported = errors.New("needs Linux")

func processCPU(int) (time.Duration, error) { return 0, errUnsupported }

func selfCPU() (time.Duration, error) { return 0, errUnsupported }

func processRSS(int) (int64, error) { return 0, errUnsupported }

func allowedCPUs() ([]int, error) { return nil, errUnsupported }

func pinProcess(int, []int) error { return errUnsupported }

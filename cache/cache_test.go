package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemory(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := NewMemory(3, 10, func() time.Time { return now })
	ctx := context.Background()
	get := func(k string) string {
		v, ok, err := m.Get(ctx, k)
		if err != nil || !ok {
			return "-"
		}
		return string(v)
	}
	_ = m.Set(ctx, "a", []byte("1"), time.Minute)
	_ = m.Set(ctx, "b", []byte("2"), time.Minute)
	_ = m.Set(ctx, "c", []byte("3"), time.Second)
	if get("a") != "1" || get("b") != "2" || get("c") != "3" {
		t.Fatal("a fresh entry is missing")
	}
	_ = m.Set(ctx, "d", []byte("4"), time.Minute) // the fourth entry evicts the least recently used: a
	if get("a") != "-" || get("d") != "4" {
		t.Errorf("after a fourth entry: a=%s d=%s; want a evicted", get("a"), get("d"))
	}
	now = now.Add(2 * time.Second)
	if get("c") != "-" || get("b") != "2" {
		t.Errorf("c should have expired and b not: c=%s b=%s", get("c"), get("b"))
	}
	_ = m.Set(ctx, "big", []byte("123456789"), time.Minute) // 9 bytes: older entries go to stay within 10
	if n, b := m.Len(); b > 10 || get("big") != "123456789" {
		t.Errorf("%d entries of %d bytes, big=%s; want within 10 bytes, big kept", n, b, get("big"))
	}
	_ = m.Set(ctx, "huge", make([]byte, 11), time.Minute)
	if get("huge") != "-" {
		t.Error("a value larger than the store was kept")
	}
	_ = m.Set(ctx, "big", []byte("x"), time.Minute) // replacing an entry counts its new size only
	if _, b := m.Len(); b > 10 {
		t.Errorf("%d bytes after a replace", b)
	}
}

func TestGroup(t *testing.T) {
	var g Group
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]string, 20)
	for i := range results {
		wg.Go(func() {
			v, _, err := g.Do(context.Background(), "k", func() (any, error) {
				calls.Add(1)
				<-release
				return "v", nil
			})
			if err == nil {
				results[i] = v.(string)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("%d calls for 20 concurrent callers of one key, want 1", calls.Load())
	}
	for i, r := range results {
		if r != "v" {
			t.Errorf("caller %d got %q", i, r)
		}
	}
	boom := errors.New("boom")
	if _, _, err := g.Do(context.Background(), "k", func() (any, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("error %v, want boom: a failure is the callers' too", err)
	}
	if _, _, err := g.Do(context.Background(), fmt.Sprint("other"), func() (any, error) { return 1, nil }); err != nil {
		t.Error(err)
	}
}

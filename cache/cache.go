// Package cache is Strata's response cache: an interface a store implements, and the in-memory
// store (an LRU with a time to live and bounds on entries and bytes). A shared store (Redis) lets
// replicas share replies; the service decides what to cache and under which key.
package cache

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Store keeps values by key for a while. Implementations are safe for concurrent use. A store
// that fails (a Redis that is down) returns errors; callers serve uncached rather than fail.
type Store interface {
	// Get returns the value stored under key, if it is there and fresh.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores value under key for ttl.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Memory is an in-process LRU store with a time to live, bounded by entries and bytes.
type Memory struct {
	maxEntries int
	maxBytes   int64
	now        func() time.Time

	mu    sync.Mutex
	lru   *list.List // front: most recently used
	items map[string]*list.Element
	bytes int64
}

type entry struct {
	key     string
	value   []byte
	expires time.Time
}

// NewMemory returns an empty store of at most maxEntries entries and maxBytes bytes of values
// (zero or less: no bound of that kind); now is the clock (nil: time.Now).
func NewMemory(maxEntries int, maxBytes int64, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{maxEntries: maxEntries, maxBytes: maxBytes, now: now, lru: list.New(), items: map[string]*list.Element{}}
}

// Get implements [Store].
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*entry)
	if !m.now().Before(e.expires) {
		m.remove(el)
		return nil, false, nil
	}
	m.lru.MoveToFront(el)
	return e.value, true, nil
}

// Set implements [Store]. A value larger than the whole store is not kept.
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		m.remove(el)
	}
	if m.maxBytes > 0 && int64(len(value)) > m.maxBytes {
		return nil
	}
	m.items[key] = m.lru.PushFront(&entry{key: key, value: value, expires: m.now().Add(ttl)})
	m.bytes += int64(len(value))
	for (m.maxEntries > 0 && m.lru.Len() > m.maxEntries) || (m.maxBytes > 0 && m.bytes > m.maxBytes) {
		m.remove(m.lru.Back())
	}
	return nil
}

// Len is how many entries the store holds, and their bytes.
func (m *Memory) Len() (entries int, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len(), m.bytes
}

func (m *Memory) remove(el *list.Element) {
	e := m.lru.Remove(el).(*entry)
	delete(m.items, e.key)
	m.bytes -= int64(len(e.value))
}

// Group runs one call per key at a time: concurrent callers of the same key wait for the first
// and share its result (single flight), so identical misses make one upstream call.
type Group struct {
	mu    sync.Mutex
	calls map[string]*flight
}

type flight struct {
	done  chan struct{}
	value any
	err   error
}

// Do runs fn for key unless a call for key is running, in which case it waits for that call's
// result. shared is true for the callers that waited. A waiter whose ctx ends stops waiting.
func (g *Group) Do(ctx context.Context, key string, fn func() (any, error)) (value any, shared bool, err error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]*flight{}
	}
	if f, ok := g.calls[key]; ok {
		g.mu.Unlock()
		select {
		case <-f.done:
			return f.value, true, f.err
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	g.calls[key] = f
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(f.done)
	}()
	f.value, f.err = fn()
	return f.value, false, f.err
}

package server

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/redis/go-redis/v9"

	stratav1 "github.com/strata-gateway/strata/gen/strata/v1"
	"github.com/strata-gateway/strata/internal/redistest"
)

// BenchmarkCacheHit measures, side by side in one run against one zero-latency emulator and one
// real redis-server, what a cached reply costs: (a) the direct SDK call it replaces; (b) the same
// request through Strata with no cache; (c) a hit in Strata's memory cache; (d) a hit in the
// Redis cache; (e) a bare Redis GET of the same entry, the round trip a Redis hit adds; (f) a bare
// grpc.health.v1 round trip, the gRPC hop every path through Strata pays. A memory hit should
// cost less than (a), and a Redis hit no more than (c) plus (e).
func BenchmarkCacheHit(b *testing.B) {
	const prompt = benchPrompt
	up := newBenchUpstream(b)
	srv := redistest.Start(b)
	strata := func(cacheBackend string) *harness {
		return up.strata(b, map[string]string{"CACHE_BACKEND": cacheBackend})
	}
	ctx := b.Context()
	req := &stratav1.ChatRequest{Model: novaMicro, Messages: user(prompt)}
	chat := func(h *harness, wantCached bool) func(b *testing.B) {
		return func(b *testing.B) {
			if _, err := h.client.Chat(ctx, req); err != nil { // the miss that fills the cache
				b.Fatal(err)
			}
			var lat latencies
			b.ReportAllocs()
			for b.Loop() {
				lat.time(func() {
					resp, err := h.client.Chat(ctx, req)
					if err != nil || resp.GetCached() != wantCached {
						b.Fatalf("cached=%v, %v; want cached=%v", resp.GetCached(), err, wantCached)
					}
				})
			}
			lat.report(b)
		}
	}

	// chatLoaded is chat with 8 callers at once (ns/op is then wall time over calls): a loaded
	// server, where no process sleeps between calls and a Redis hit pays its round trip only.
	chatLoaded := func(h *harness) func(b *testing.B) {
		return func(b *testing.B) {
			b.SetParallelism(4) // × GOMAXPROCS 2
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if resp, err := h.client.Chat(ctx, req); err != nil || !resp.GetCached() {
						b.Errorf("cached=%v, %v", resp.GetCached(), err)
						return
					}
				}
			})
		}
	}

	b.Run("a_direct_sdk", up.directConverse(&bedrockruntime.ConverseInput{ModelId: aws.String(novaMicro),
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: prompt}}}}}))
	b.Run("b_strata_uncached", chat(strata("none"), false))
	memoryStrata, redisStrata := strata("memory"), strata(srv.URL())
	b.Run("c_strata_memory_hit", chat(memoryStrata, true))
	b.Run("d_strata_redis_hit", chat(redisStrata, true))
	b.Run("c_strata_memory_hit_8_callers", chatLoaded(memoryStrata))
	b.Run("d_strata_redis_hit_8_callers", chatLoaded(redisStrata))
	// A bare client of the same Redis, and an entry of the size a cached reply takes.
	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	bare := redis.NewClient(opts)
	defer bare.Close()
	resp, err := redisStrata.client.Chat(ctx, req)
	if err != nil {
		b.Fatal(err)
	}
	if err := bare.Set(ctx, "bench:entry", make([]byte, len(resp.GetText())+256), 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.Run("e_redis_get", func(b *testing.B) {
		var lat latencies
		b.ReportAllocs()
		for b.Loop() {
			lat.time(func() {
				if err := bare.Get(ctx, "bench:entry").Err(); err != nil {
					b.Fatal(err)
				}
			})
		}
		lat.report(b)
	})
	b.Run("e_redis_get_8_callers", func(b *testing.B) {
		b.SetParallelism(4)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := bare.Get(ctx, "bench:entry").Err(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("f_grpc_health", healthHop(redisStrata))
}

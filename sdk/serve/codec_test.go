package serve

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
)

// Buffers come back from the pool with what the last user left in them:
// a message marshalled into one and read back must not show any of it.
func TestCodecOverDirtyBuffers(t *testing.T) {
	for _, size := range []int{1, 255, 256, 257, 4096, 70_000, 1 << 20} {
		for range 4 {
			b := pool.Get(size)
			for i := range *b {
				(*b)[i] = 0xAB
			}
			pool.Put(b)
		}
	}
	for _, n := range []int{0, 1, 40, 3000, 40_000} {
		want := &pluginv1.EvaluateRequest{Explain: true, Cases: &pluginv1.Cases{
			Id: &pluginv1.Strings{Data: bytes.Repeat([]byte("a"), n), Ends: make([]uint32, n)}, Age: make([]int64, n)}}
		for i := range n {
			want.Cases.Id.Ends[i] = uint32(i + 1)
			want.Cases.Age[i] = int64(i % 7)
		}
		data, err := codec{}.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if data.Len() != proto.Size(want) {
			t.Fatalf("%d cases: %d bytes marshalled, the message has %d", n, data.Len(), proto.Size(want))
		}
		frames := framed(data.Materialize())
		var got pluginv1.EvaluateRequest
		if err := (codec{}).Unmarshal(frames, &got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(want, &got) {
			t.Fatalf("%d cases: the message came back changed", n)
		}
		data.Free()
		frames.Free()
	}
}

// framed is a message as gRPC delivers it: in frames of at most 16 KiB,
// each in a buffer of the pool.
func framed(b []byte) mem.BufferSlice {
	var frames mem.BufferSlice
	for len(b) > 0 {
		k := min(len(b), 16<<10)
		frames = append(frames, mem.Copy(b[:k], pool))
		b = b[k:]
	}
	return frames
}

// A stream receives a batch into an Empty: all its bytes, as they came
// in frames, become its unknown fields, in an array of its own that the
// frames' buffers going back to the pool (and being written again) do not
// change.
func TestCodecReceivesEmptyWhole(t *testing.T) {
	for _, n := range []int{0, 1, 16 << 10, 16<<10 + 1, 100_000} {
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(i * 7)
		}
		frames := framed(want)
		var got emptypb.Empty
		if err := (codec{}).Unmarshal(frames, &got); err != nil {
			t.Fatal(err)
		}
		for _, b := range frames {
			d := b.ReadOnlyData()
			clear(d[:len(d):len(d)])
		}
		frames.Free()
		if u := got.ProtoReflect().GetUnknown(); !bytes.Equal(u, want) {
			t.Fatalf("%d bytes: %d came back, changed", n, len(u))
		}
	}
}

func TestPoolSizes(t *testing.T) {
	for _, n := range []int{0, 1, 256, 257, 1 << 20, 1<<20 + 1, 1 << maxTier, 1<<maxTier + 1} {
		b := pool.Get(n)
		if len(*b) != n || cap(*b) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(*b), cap(*b))
		}
		pool.Put(b)
	}
	if _, err := (codec{}).Marshal("not a message"); err == nil {
		t.Fatal("a string marshalled")
	}
}

// FuzzCodecUnmarshal: the codec reads any bytes, in any frames, as
// protobuf does: the same message or the same refusal, and an Empty keeps
// every byte.
func FuzzCodecUnmarshal(f *testing.F) {
	req, err := proto.Marshal(&pluginv1.EvaluateRequest{Explain: true, Cases: &pluginv1.Cases{Age: []int64{1, 2, 3}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(req, uint16(1))
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, uint16(2))
	f.Add([]byte{}, uint16(7))
	f.Fuzz(func(t *testing.T, b []byte, frame uint16) {
		frames := func() mem.BufferSlice {
			k := max(int(frame), 1)
			var s mem.BufferSlice
			for rest := b; len(rest) > 0; rest = rest[min(k, len(rest)):] {
				s = append(s, mem.Copy(rest[:min(k, len(rest))], pool))
			}
			return s
		}
		var got, want pluginv1.EvaluateRequest
		data := frames()
		err := codec{}.Unmarshal(data, &got)
		data.Free()
		werr := proto.Unmarshal(b, &want)
		if (err == nil) != (werr == nil) || err == nil && !proto.Equal(&got, &want) {
			t.Fatalf("codec: %v; protobuf: %v", err, werr)
		}
		var e emptypb.Empty
		data = frames()
		if err := (codec{}).Unmarshal(data, &e); err != nil || !bytes.Equal(e.ProtoReflect().GetUnknown(), b) {
			t.Fatalf("an Empty kept %d of %d bytes: %v", len(e.ProtoReflect().GetUnknown()), len(b), err)
		}
		data.Free()
	})
}

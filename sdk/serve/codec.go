package serve

import (
	"fmt"
	"math/bits"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// A plug-in connection carries batches of a few hundred KiB each way.
// gRPC's default buffer pool clears every buffer it hands out, to the size
// of its tier (a 300 KiB batch takes a cleared 1 MiB buffer), and its
// proto codec always uses that pool: four clearings a call on each side.
// bufferPool does not clear, and codec marshals into and reads from it.
// Each buffer is filled before it is read (a frame read into it, a message
// marshalled or copied into it); gRPC reads its own frames into uncleared
// buffers for the same reason.
type bufferPool struct {
	tiers [maxTier + 1]sync.Pool
}

// Tiers are powers of two up to the largest message.
const (
	minTier = 8
	maxTier = 26 // MaxMessageBytes
)

var pool = &bufferPool{}

func (p *bufferPool) Get(n int) *[]byte {
	t := minTier
	if n > 1 {
		t = max(bits.Len(uint(n-1)), minTier)
	}
	if t > maxTier {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.tiers[t].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<t)
	return &b
}

func (p *bufferPool) Put(b *[]byte) {
	t := bits.Len(uint(cap(*b))) - 1 // the largest tier the buffer can serve
	if t < minTier || t > maxTier {
		return
	}
	*b = (*b)[:0]
	p.tiers[t].Put(b)
}

// codec is gRPC's protobuf encoding over bufferPool.
type codec struct{}

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("a %T is not a protobuf message", v)
	}
	// Size first, so that marshalling uses the sizes it computed.
	buf := pool.Get(proto.Size(m))
	out, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend((*buf)[:0], m)
	if err != nil {
		pool.Put(buf)
		return nil, err
	}
	*buf = out
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	if e, ok := v.(*emptypb.Empty); ok {
		// An Empty is how a batch's stream receives a message whole, as
		// unknown fields that the hand reader or protobuf then reads
		// (grpcplugin's wire.go): one copy straight into an array of its
		// own, which the texts read from it share, rather than a copy into
		// a pooled buffer and a second one by protobuf. Bytes against the
		// protocol are refused when they are read.
		b := make([]byte, data.Len())
		data.CopyTo(b)
		e.ProtoReflect().SetUnknown(b)
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("a %T is not a protobuf message", v)
	}
	// The message copies what it keeps (strings, bytes), so the buffer
	// goes back to the pool at once.
	buf := data.MaterializeToBuffer(pool)
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

var (
	_ mem.BufferPool   = pool
	_ encoding.CodecV2 = codec{}
)

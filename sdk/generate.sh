#!/bin/sh
# Regenerates the protocol's Go code (internal/pluginv1) from proto/ with
# pinned generators, into the directory given (default: in place). .ci/run
# generates into a scratch directory and diffs it with the committed code.
# Needs protoc (Debian: protobuf-compiler).
set -eu
out=$(realpath "${1:-$(dirname "$0")}")
cd "$(dirname "$0")"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin GOWORK=off go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN=$bin GOWORK=off go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0
PATH=$bin:$PATH protoc -I proto \
	--go_out="$out" --go_opt=module=github.com/socialtreasury/treasury/sdk \
	--go-grpc_out="$out" --go-grpc_opt=module=github.com/socialtreasury/treasury/sdk \
	treasury/plugin/v1/plugin.proto

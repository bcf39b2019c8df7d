// Command treasury is the Social Treasury platform's one binary: the server,
// migrations, and the operator's tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/socialtreasury/treasury/core/app"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRoot()
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	// One line, never a stack trace: operators grep these.
	fmt.Fprintln(os.Stderr, "treasury: "+strings.Join(strings.Fields(err.Error()), " "))
	var ce *app.ConfigError
	if errors.As(err, &ce) {
		return 2
	}
	return 1
}

package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sessiondemo:", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds how long in-flight requests may take to finish
// once the demo is asked to stop.
const shutdownTimeout = 5 * time.Second

// run parses args (without the program name) and the environment through
// getenv, starts the demo, logs to stdout, and serves until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	logger := log.New(stdout, "sessiondemo: ", log.LstdFlags)
	cfg, err := parseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	d, err := start(cfg, logger)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- d.serve() }()
	select {
	case <-ctx.Done():
		logger.Print("shutting down")
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if cerr := d.shutdown(sctx); err == nil {
		err = cerr
	}
	return err
}

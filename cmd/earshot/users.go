package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/ui"
)

const usersUsage = "usage: earshot users reset-password NAME [--admin] [--nats URL | --data DIR] [--ui-users FILE]"

// usersCmd is earshot users: the web view's users, from the command line.
func usersCmd(ctx context.Context, args []string, std stdio) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(std.err, usersUsage)
		fmt.Fprintln(std.err, "\nUsers live in NATS KV: give --nats for a running NATS (earshot ui, or earshot run's --nats-listen),\n"+
			"or --data for earshot run's embedded one while earshot is stopped.")
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "reset-password" {
		fmt.Fprintln(std.err, usersUsage)
		if len(args) == 0 {
			return badInputf("no subcommand")
		}
		return badInputf("unknown subcommand %q (want reset-password)", args[0])
	}
	fs := flag.NewFlagSet("earshot users reset-password", flag.ContinueOnError)
	fs.SetOutput(std.err)
	natsURL := fs.String("nats", "", "NATS server or cluster URL the web view uses (default: earshot run's embedded NATS in --data, which must be stopped)")
	data := fs.String("data", defaultDataDir, "data directory of the earshot whose users these are")
	admin := fs.Bool("admin", false, "make the user an admin too (users left without one, as after restoring an old users bucket)")
	file := fs.String("ui-users", "", "a users file of an earlier earshot, imported first as earshot ui does (default DATA/ui-users.json)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badInputf("reset-password takes one user name, got %d", len(pos))
	}
	path := *file
	if path == "" {
		path = filepath.Join(*data, "ui-users.json")
	}
	url := *natsURL
	var opts []bus.Option
	if url == "" {
		if _, err := os.Stat(filepath.Join(*data, "nats")); err != nil {
			if _, ferr := os.Stat(path); ferr != nil {
				return badInputf("%s holds no earshot NATS store (%v): give the --data of an earshot run, or --nats URL", *data, err)
			}
		}
		srv, err := bus.StartServer(bus.ServerConfig{DataDir: *data, NoListen: true})
		if err != nil {
			return fmt.Errorf("the embedded NATS in %s (is earshot still running? then give --nats): %w", *data, err)
		}
		defer srv.Close()
		url, opts = srv.ClientURL(), append(opts, srv.InProcess())
	}
	conn, err := bus.Connect(ctx, url, "earshot-users", slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		return err
	}
	defer conn.Close()
	acc, err := ui.OpenAccounts(ctx, conn.JS, ui.AccountsConfig{ImportFile: path})
	if err != nil {
		if errors.Is(err, ui.ErrBadUser) {
			return badInput(err)
		}
		return err
	}
	defer acc.Close()
	pw, err := acc.ResetPassword(ctx, pos[0], *admin)
	if err != nil {
		if errors.Is(err, ui.ErrNoUser) || errors.Is(err, ui.ErrBadUser) {
			return badInput(err)
		}
		return err
	}
	made := ""
	if *admin {
		made = ", now an admin"
	}
	fmt.Fprintf(std.out, "earshot: new password for %q%s: %s (shown once; the user's sessions are over; change it under Users)\n", pos[0], made, pw)
	return nil
}

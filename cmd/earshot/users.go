package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/earshot-dev/earshot/ui"
)

// usersCmd is earshot users: the web view's users, from the command line.
func usersCmd(ctx context.Context, args []string, std stdio) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(std.err, "usage: earshot users reset-password NAME [--data DIR | --ui-users FILE]")
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "reset-password" {
		fmt.Fprintln(std.err, "usage: earshot users reset-password NAME [--data DIR | --ui-users FILE]")
		if len(args) == 0 {
			return badInputf("no subcommand")
		}
		return badInputf("unknown subcommand %q (want reset-password)", args[0])
	}
	fs := flag.NewFlagSet("earshot users reset-password", flag.ContinueOnError)
	fs.SetOutput(std.err)
	data := fs.String("data", "earshot-data", "data directory of the earshot whose users these are")
	file := fs.String("ui-users", "", "the users file (default DATA/ui-users.json)")
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
	pw, err := ui.ResetPassword(path, pos[0])
	if err != nil {
		if errors.Is(err, ui.ErrNoUser) || errors.Is(err, ui.ErrBadUser) {
			return badInput(err)
		}
		return err
	}
	fmt.Fprintf(std.out, "earshot: new password for %q: %s (shown once; earshot uses it from its next start; change it under Users)\n", pos[0], pw)
	return nil
}

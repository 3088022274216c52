package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/schema"
)

func init() { commands = append(commands, newSchemaCmd) }

func newSchemaCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "schema [KIND]",
		Short: "Print the JSON Schema of a plan kind (or of fleetplan.yaml: config)",
		Long: `schema prints the JSON Schema (draft 2020-12) of a plan kind, as one standalone
document that editors can use (for yaml-language-server, save it and point a
# yaml-language-server: $schema=... comment at it). The kind is case-insensitive;
"config" is the schema of fleetplan.yaml. Without a kind it lists the kinds.`,
		Example: `  fleetplan schema
  fleetplan schema ShardLayout > .schemas/shardlayout.json
  fleetplan schema config`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: schema.Names(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return a.view.Lines(schema.Names())
			}
			src, ok := schema.Source(args[0])
			if !ok {
				msg := fmt.Sprintf("unknown kind %q (kinds: %s)", args[0], strings.Join(schema.Names(), ", "))
				if sug := schema.Suggest(args[0], schema.Names()); sug != "" {
					msg += fmt.Sprintf("; did you mean %q?", sug)
				}
				return fmt.Errorf("%s", msg)
			}
			return a.view.Bytes(src)
		},
	}
}

package views

import (
	"strconv"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
)

// FailoverGroups lists failover groups, one a line, or as JSON.
func (v *View) FailoverGroups(format string, groups []fleet.FailoverGroup) error {
	if format == JSON {
		if groups == nil {
			groups = []fleet.FailoverGroup{}
		}
		return v.json(groups)
	}
	if len(groups) == 0 {
		v.printf("no failover groups\n")
	}
	for _, g := range groups {
		policy := g.ReadWritePolicy
		if g.ReadWritePolicy == fleet.FailoverAutomatic && g.GraceMinutes > 0 {
			policy += " after " + strconv.Itoa(g.GraceMinutes) + " min"
		}
		v.printf("%s  primary %s, secondary %s, %s, read-write failover %s: %s\n", g.Name, g.Primary, g.Secondary, g.State, policy, strings.Join(g.Databases, ", "))
	}
	return nil
}

package estimate

import (
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
)

// Diff lists what settings s change on instance cur, in table order; pool
// membership is not among them (it is an operation of its own).
func Diff(cur fleet.ManagedInstance, s fleet.InstanceSettings) []Change {
	var out []Change
	if s.Tier != "" && s.Tier != cur.Tier {
		out = append(out, ChangeTier)
	}
	if s.VCores != 0 && s.VCores != cur.VCores {
		out = append(out, ChangeVCores)
	}
	if s.StorageGB != 0 && s.StorageGB != cur.StorageGB {
		out = append(out, ChangeStorage)
	}
	if s.Hardware != "" && s.Hardware != cur.Hardware {
		out = append(out, ChangeHardware)
	}
	if s.MaintenanceWindow != "" && s.MaintenanceWindow != cur.MaintenanceWindow {
		out = append(out, ChangeMaintenanceWindow)
	}
	if s.ZoneRedundant != nil && *s.ZoneRedundant != cur.ZoneRedundant {
		out = append(out, ChangeZoneRedundant)
	}
	if s.LicenseType != "" && s.LicenseType != cur.LicenseType {
		out = append(out, ChangeLicense)
	}
	return out
}

// LastInSubnet reports whether name is the only instance of its subnet
// outside pools (a pool keeps the subnet's VM group).
func LastInSubnet(name string, instances []fleet.ManagedInstance, pools []fleet.InstancePool) bool {
	var cur *fleet.ManagedInstance
	for i := range instances {
		if strings.EqualFold(instances[i].Name, name) {
			cur = &instances[i]
		}
	}
	if cur == nil || cur.Pool != "" {
		return false
	}
	for _, mi := range instances {
		if !strings.EqualFold(mi.Name, name) && strings.EqualFold(mi.Subnet, cur.Subnet) {
			return false
		}
	}
	for _, p := range pools {
		if strings.EqualFold(p.Subnet, cur.Subnet) {
			return false
		}
	}
	return true
}

// RequestFor is the model request of operation typ on cur (nil for a
// create) with settings s.
func RequestFor(typ Type, cur *fleet.ManagedInstance, s fleet.InstanceSettings, lastInSubnet bool) Request {
	req := Request{Type: typ, LastInSubnet: lastInSubnet, Tier: s.Tier, InPool: s.Pool != ""}
	if s.ZoneRedundant != nil {
		req.ZoneRedundant = *s.ZoneRedundant
	}
	if cur == nil {
		if req.Tier == "" {
			req.Tier = GeneralPurpose
		}
		return req
	}
	req.FromTier = cur.Tier
	if req.Tier == "" {
		req.Tier = cur.Tier
	}
	if s.ZoneRedundant == nil {
		req.ZoneRedundant = cur.ZoneRedundant
	}
	if typ == Update {
		req.Changes = Diff(*cur, s)
	}
	for _, db := range cur.Databases {
		req.Databases = append(req.Databases, Database{Name: db.Name, SizeGB: db.SizeGB})
	}
	return req
}

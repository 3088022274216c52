// Package faults injects failures at named points (FLEETPLAN_FAULTS) so that
// retries, rollbacks and crash recovery can be tested against real runs. It is
// off unless FLEETPLAN_FAULTS_I_KNOW=yes is also set.
package faults

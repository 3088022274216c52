// Package test holds end-to-end tests that run the real fleetplan binary:
// crash/resume with SIGKILL at seeded points, fault injection, and checks that
// open the fleet's SQLite files directly.
package test
